/**
 * The program evaluated under Pulumi's mocks, for the tests and for the tools that draw and render
 * it (tools/docs.ts, tools/render.ts, tools/stacks.ts, bench/evaluate.ts): the recording mock
 * monitor, the fakes it answers with, the real stack files, and evaluating the program for a stack.
 * It lives outside test/ because product tools run on it; test/mocks.ts re-exports it.
 */
export * from "./evaluate";
export * from "./fakes";
export * from "./recorder";
export * from "./stack-files";
