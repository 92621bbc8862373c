// The runtime settings of the two roles, as environment variables (Bun reads JavaScriptCore's options only
// from there): the processes this project starts (lib/tooling/processes.ts), and, written out, the two
// images (server/Dockerfile, client/Dockerfile) and the package scripts.

/**
 * JavaScriptCore settings for every process (the images and the package scripts set the same;
 * test/deployment/runtime-env.test.ts holds them to it), for few cores shared by many processes (README,
 * Performance). FTL, the last of its JIT tiers, costs more CPU to compile with than it saves in a
 * short-lived process: without it the course's size runs about 30% faster. Compiling on the thread that
 * runs the code, rather than on a helper thread that competes with it for the same cores, takes 8-10%
 * off the agencies' CPU. Both measured on 2 cores.
 */
export const RUNTIME_ENV = { BUN_JSC_useFTLJIT: "0", BUN_JSC_useConcurrentJIT: "0" };

/**
 * The central is the one long-lived process: its hot loops (checks, row formatting) run for millions of
 * bets, where FTL's compiling pays for itself (README, Performance: CPU per million bets). It compiles on
 * a helper thread: the central's one thread is what every agency waits on, and compiling there held all
 * of them up (1M bets end to end, 7 pairs back to back: 1.044 s to 0.951 s, the median). Its heap grows
 * by at most a tenth between full collections instead of doubling: with 10,000 connections a burst of
 * requests (their ENDs, their winners queries) otherwise left up to 30 MB of garbage on top of ~85 MB
 * alive (peak 133-140 MB against 98-113, no CPU per bet lost at 5 connections).
 */
export const CENTRAL_ENV = { BUN_JSC_useFTLJIT: "1", BUN_JSC_useConcurrentJIT: "1", BUN_JSC_heapGrowthMaxIncrease: "1.1" };

/**
 * Agencies live for one run: their allocator (mimalloc) keeps the memory they free instead of handing
 * it back to the system at once and faulting it in again. 100 agencies × 10,000 bets, back to back
 * when it was added: 11.2 s down to 8.7 s (README, Performance). The central, which runs for long,
 * returns its memory as usual.
 */
export const AGENCY_ENV = { MIMALLOC_PURGE_DELAY: "-1" };
