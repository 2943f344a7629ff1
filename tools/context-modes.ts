/**
 * Sets every file in a build context to 0644 or 0755 (by its executable bit) and every directory
 * to 0755, before `pulumi preview` or `pulumi up` hashes the context.
 *
 * Git records only the executable bit; the other permission bits come from the umask of whoever
 * checked the files out, and docker-build's context hash includes each file's mode, so without
 * this two checkouts of one commit disagree forever and every preview shows a rebuild. It runs
 * here, as a step before the engine, because evaluating the program must not touch the disk.
 *
 *   npm run -s context-modes -- app [more contexts…]
 */
import * as fs from "fs";
import * as path from "path";

/** Directories never sent as build context and never worth walking. */
const SKIPPED_DIRECTORIES = new Set([".git", "node_modules"]);

export function normalizeContextModes(directory: string): void {
    for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
        const full = path.join(directory, entry.name);
        if (entry.isDirectory()) {
            if (SKIPPED_DIRECTORIES.has(entry.name)) continue;
            fs.chmodSync(full, 0o755);
            normalizeContextModes(full);
        } else if (entry.isFile()) {
            const mode = fs.statSync(full).mode & 0o777;
            const wanted = mode & 0o111 ? 0o755 : 0o644;
            if (mode !== wanted) fs.chmodSync(full, wanted);
        }
    }
}

const USAGE = `usage: npm run -s context-modes -- <build context directory>…

Sets each file of the build contexts to 0644 or 0755 (by its executable bit) and each directory to
0755, so that docker-build's context hash does not depend on the checkout's umask.`;

if (require.main === module) {
    const args = process.argv.slice(2);
    if (args.includes("--help") || args.includes("-h")) {
        console.log(USAGE);
    } else if (args.length === 0 || args.some((arg) => arg.startsWith("-"))) {
        console.error(USAGE);
        process.exitCode = 2;
    } else {
        const missing = args.filter((directory) => !fs.statSync(directory, { throwIfNoEntry: false })?.isDirectory());
        if (missing.length > 0) {
            console.error(`context-modes: not a directory: ${missing.join(", ")} (give the build contexts, e.g. app)`);
            process.exitCode = 1;
        } else {
            for (const directory of args) normalizeContextModes(directory);
        }
    }
}
