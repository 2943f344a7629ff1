/**
 * The shared test helpers, one module per concern under support/: the recording mock monitor,
 * the fakes it answers with, the real stack files, and evaluating the program for a stack.
 */
export * from "./support/evaluate";
export * from "./support/fakes";
export * from "./support/hardening";
export * from "./support/recorder";
export * from "./support/stack-files";
