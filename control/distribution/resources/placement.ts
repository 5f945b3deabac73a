// Whether a target's placement (resource kind, selector, targetRefs) is one its kind can express: the rules of each
// kind's CRD and controller (contracts/resources.ts), checked before anything is stored so the API server or the
// controller never has to refuse (or silently ignore) what tollgate rendered. Pure.
import { ProblemError } from '../../errors.js';
import {
  ALLOWED_TARGET_REFS, MAX_TARGET_REFS, SECTION_NAME_KINDS, SELECTOR_KINDS, TARGET_REFS_REQUIRED_KINDS,
  WAYPOINT_GATEWAY_CLASS, type ResourceKind, type TargetRef,
} from '../../../contracts/resources.js';

export interface Placement {
  kind: ResourceKind;
  selector: Record<string, string> | null;
  targetRefs: readonly TargetRef[] | null;
}

/** Every reason the placement cannot be rendered (empty: it can). Each names the field and says what would do. */
export function placementProblems(p: Placement): string[] {
  const problems: string[] = [];
  const hasSelector = p.selector !== null;
  const refs = p.targetRefs ?? [];
  if (hasSelector && p.targetRefs !== null) problems.push(`selector, targetRefs: set at most one (a ${p.kind} takes one)`);
  if (hasSelector && !SELECTOR_KINDS.includes(p.kind)) {
    problems.push(`selector: a ${p.kind} has no workload selector; attach it with targetRefs (${allowedList(p.kind)})`);
  }
  if (p.targetRefs === null && TARGET_REFS_REQUIRED_KINDS.includes(p.kind)) {
    problems.push(`targetRefs: a ${p.kind} needs at least one (${allowedList(p.kind)})`);
  }
  if (p.targetRefs !== null && refs.length === 0) problems.push('targetRefs: give at least one, or null');
  if (refs.length > MAX_TARGET_REFS) problems.push(`targetRefs: at most ${MAX_TARGET_REFS}`);
  const allowed = ALLOWED_TARGET_REFS[p.kind];
  const seen = new Set<string>();
  refs.forEach((ref, i) => {
    if (!allowed.some((a) => a.group === ref.group && a.kind === ref.kind)) {
      problems.push(`targetRefs[${i}]: ${describe(ref)} cannot be targeted by a ${p.kind} (one of ${allowedList(p.kind)})`);
    }
    if (ref.sectionName !== undefined && !SECTION_NAME_KINDS.includes(p.kind)) {
      problems.push(`targetRefs[${i}].sectionName: a ${p.kind} reference has no sectionName`);
    }
    // Istio attaches a GatewayClass reference only for the waypoint class (from the root namespace).
    if (p.kind === 'TrafficExtension' && ref.kind === 'GatewayClass' && ref.name !== WAYPOINT_GATEWAY_CLASS) {
      problems.push(`targetRefs[${i}]: the only GatewayClass a TrafficExtension attaches to is ${WAYPOINT_GATEWAY_CLASS}`);
    }
    const id = `${ref.group}/${ref.kind}/${ref.name}/${ref.sectionName ?? ''}`;
    if (seen.has(id)) problems.push(`targetRefs[${i}]: ${describe(ref)} is listed twice`);
    seen.add(id);
  });
  return problems;
}

/** ProblemError 422 naming every reason the kind cannot express this placement. */
export function assertPlacement(p: Placement): void {
  const problems = placementProblems(p);
  if (problems.length > 0) throw new ProblemError(422, 'Placement not possible', problems.join('; '));
}

function describe(ref: TargetRef): string {
  return `${ref.group === '' ? 'core' : ref.group}/${ref.kind} ${ref.name}`;
}

function allowedList(kind: ResourceKind): string {
  return ALLOWED_TARGET_REFS[kind].map((a) => `${a.kind} (${a.group === '' ? 'group ""' : a.group})`).join(', ');
}
