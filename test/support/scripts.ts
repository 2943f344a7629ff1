/**
 * Running one of scripts/ as a workflow step would, against stand-ins: `$STUB/bin` first on PATH
 * (pulumi, kubectl, docker… answering from files under $STUB) and no GitHub step summary.
 */
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../mocks";

export function runScript(
    script: string,
    args: string[],
    options: { cwd: string; stub: string; env?: Record<string, string> },
): SpawnSyncReturns<string> {
    return spawnSync("bash", [path.join(REPO_ROOT, "scripts", script), ...args], {
        cwd: options.cwd,
        encoding: "utf8",
        env: {
            ...process.env,
            STUB: options.stub,
            PATH: `${path.join(options.stub, "bin")}:${process.env.PATH}`,
            GITHUB_STEP_SUMMARY: "",
            ...options.env,
        },
    });
}

/** Whether the process is gone (or a zombie, stopped and not yet reaped by whoever inherited it). */
export function stopped(pid: number): boolean {
    const stat = `/proc/${pid}/stat`;
    return !fs.existsSync(stat) || / Z /.test(fs.readFileSync(stat, "utf8"));
}
