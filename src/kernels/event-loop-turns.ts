/**
 * Turns for long main-thread work (formatting a big answer): at most one slice per turn of the event
 * loop, whoever asks, so concurrent big answers take turns with each other AND with I/O (a status request
 * waits for one slice, not one slice of every big answer in flight, as separate setImmediate calls
 * would give).
 */
const waiting: (() => void)[] = [];
let scheduled = false;

/** Resolves when it is the caller's turn to run one slice (first come, first served). */
export function nextSlice(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!scheduled) {
      scheduled = true;
      setImmediate(turn);
    }
  });
}

function turn(): void {
  const next = waiting.shift();
  if (waiting.length > 0) setImmediate(turn);
  else scheduled = false;
  next?.();
}
