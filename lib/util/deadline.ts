/**
 * Settles when `work` does, or at `deadline` (a performance.now() time), whichever comes first: true when
 * the work settled in time. A rejection of the work passes through. The timer goes with it: nothing is
 * left to keep a stopping process alive.
 */
export function beforeDeadline(work: Promise<unknown>, deadline: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(false), Math.max(0, deadline - performance.now()));
    work.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
