// The plaintext key, shown once: right after creation or rotation, with a copy button and a warning. Closing the
// dialog drops the key from the console's state (the parent unmounts this), so it is gone from the DOM too.
import { useState } from 'preact/hooks';
import { Dialog } from './dialog';
import type { KeyCreated } from '../types';

export function KeyOnceDialog({ created, onClose, heading }: { created: KeyCreated; onClose: () => void; heading: string }) {
  const [copied, setCopied] = useState<string>('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied('Copied to the clipboard.');
    } catch {
      // No clipboard permission (or not a secure context): select the text so Ctrl+C / long-press copies it.
      const field = document.getElementById('new-key-value') as HTMLInputElement | null;
      field?.focus();
      field?.select();
      setCopied('Copying is not allowed here: the key is selected, copy it with Ctrl+C.');
    }
  };
  return (
    <Dialog id="key-once" title={heading} onClose={onClose} alert>
      <p class="warning" id="key-once-warning">
        This is the only time the key is shown. Store it now: tollgate keeps only its hash and cannot show it again.
      </p>
      <label for="new-key-value">API key (prefix {created.prefix}, id {created.id})</label>
      <div class="row">
        <input id="new-key-value" class="mono grow" type="text" readOnly value={created.key} aria-describedby="key-once-warning"
          autoComplete="off" spellcheck={false} onFocus={(e) => e.currentTarget.select()} />
        <button type="button" onClick={copy}>Copy</button>
      </div>
      <p role="status" aria-live="polite" class="muted">{copied}</p>
      <div class="actions">
        <button type="button" class="primary" autofocus onClick={onClose}>I have stored the key</button>
      </div>
    </Dialog>
  );
}
