// V8's heap sizing is made for a process that runs flat out; an extension runs a little work per
// invocation for hours. Left alone, its young generation grows with what survives scavenges (a
// semi-space of 1 MiB at start, 4 after loading, 8 and then 16 within a few hundred invocations;
// the pages of both semi-spaces stay resident), and what was promoted to the old generation (the
// spans and metrics held until a flush) stays there as garbage until a mark-compact that V8
// schedules several MB past the live size. Once everything is loaded:
//  - the young generation grows no further: its size stays what loading left;
//  - V8's own mark-compacts reduce memory (they shrink the young generation and give free pages
//    back) and come every 2 MB of old-generation growth;
//  - and the app collects the garbage itself, at an idle moment (its `next` written), once the
//    heap has grown by COLLECT_AFTER_BYTES since the last collection, so what a flush let go of
//    does not stay resident for hundreds of invocations.
// Not at start: a V8 flag set before a script is compiled changes the flag hash V8 checks code
// caches against, and both Node's built-ins and our bundles load from one.
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const STEADY_STATE_V8_FLAGS = [
  '--semi-space-growth-factor=1',
  '--optimize-for-size',
  '--expose-gc',
] as const;

/** Heap growth since the last collection that makes the next idle moment collect. */
export const COLLECT_AFTER_BYTES = 1.5 * 1024 * 1024;

export interface HeapControl {
  setFlag: (flag: string) => void;
  /** A full collection (V8's `gc`, reachable once `--expose-gc` is set). */
  collector: () => () => void;
  usedBytes: () => number;
}

const v8Control: HeapControl = {
  setFlag: setFlagsFromString,
  // `--expose-gc` set at run time gives `gc` to contexts made afterwards, not to the main one.
  collector: () => runInNewContext('gc') as () => void,
  usedBytes: () => getHeapStatistics().used_heap_size,
};

/**
 * Applies STEADY_STATE_V8_FLAGS (call once nothing more loads from a code cache) and returns what
 * to call at each idle moment: it collects when the heap grew by `afterBytes` since the last time.
 */
export function tuneHeapForSteadyState(
  control: HeapControl = v8Control,
  afterBytes = COLLECT_AFTER_BYTES,
): () => boolean {
  for (const flag of STEADY_STATE_V8_FLAGS) control.setFlag(flag);
  // Made at the first collection (it makes a V8 context): that is an idle moment, loading is not.
  let gc: (() => void) | undefined;
  let baseline = control.usedBytes();
  return () => {
    if (control.usedBytes() - baseline < afterBytes) return false;
    gc ??= control.collector();
    gc();
    baseline = control.usedBytes();
    return true;
  };
}
