// A modal on the native <dialog>: the browser traps focus inside, Escape closes it, and focus returns to the opener
// — keyboard-operable without a focus-trap library. The parent unmounts it in onClose.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

export interface DialogProps {
  title: string;
  /** A short id for the heading (aria-labelledby). */
  id: string;
  onClose: () => void;
  children: ComponentChildren;
  /** role="alertdialog" for dialogs that need a decision or carry a warning. */
  alert?: boolean;
}

export function Dialog({ title, id, onClose, children, alert }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const closed = useRef(onClose);
  closed.current = onClose;
  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const onCloseEvent = () => closed.current();
    dialog.addEventListener('close', onCloseEvent);
    if (!dialog.open) dialog.showModal();
    return () => {
      dialog.removeEventListener('close', onCloseEvent);
      if (dialog.open) dialog.close();
      if (opener !== null && opener.isConnected) opener.focus();
    };
  }, []);
  return (
    <dialog ref={ref} class="dialog" aria-labelledby={`${id}-title`} role={alert === true ? 'alertdialog' : undefined}>
      <h2 id={`${id}-title`}>{title}</h2>
      {children}
    </dialog>
  );
}
