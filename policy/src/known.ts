/**
 * Reading resource properties that may be unknown during `pulumi preview`.
 *
 * The SDK throws `UnknownValueError` on touching a value not known yet (e.g. an image digest the
 * build produces at `up`) and then skips the whole policy for the resource with an advisory note.
 * Reading field by field instead lets every known field still be checked; the unknown one is
 * checked when `pulumi up` runs the same policies with the value resolved.
 */
import { UnknownValueError } from "@pulumi/policy";

export const UNKNOWN = Symbol("unknown during preview");
export type Known<T> = T | typeof UNKNOWN;

export function read<T>(get: () => T): Known<T> {
    try {
        return get();
    } catch (error) {
        if (error instanceof UnknownValueError) return UNKNOWN;
        throw error;
    }
}

/** A known array (empty when absent); UNKNOWN when the array itself is not known yet. */
export function readArray(get: () => unknown): Known<any[]> {
    const value = read(get);
    if (value === UNKNOWN) return UNKNOWN;
    return Array.isArray(value) ? value : [];
}

/** A known plain object (empty when absent); UNKNOWN when it is not known yet. */
export function readObject(get: () => unknown): Known<Record<string, any>> {
    const value = read(get);
    if (value === UNKNOWN) return UNKNOWN;
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, any>) : {};
}
