/**
 * The shared test helpers: the program under mocks (lib/mocks.ts, which the tools use too) and
 * the assertions only tests make, under support/.
 */
export * from "../lib/mocks";
export * from "./support/assertions";
export * from "./support/hardening";
