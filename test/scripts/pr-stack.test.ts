/**
 * scripts/pr-stack.sh, the one path of pull-request stacks (review.yml, sweep.yml and the e2e suite),
 * against stand-ins for `pulumi`, `kubectl` and `gh` that answer from files: what it does when the
 * backend cannot be read (fail, never "no stack"), when a stack is absent, that a destroy runs no
 * code of the stack's state (no `pulumi destroy`), and how the sweeper chooses. The real engine's
 * and API server's side (grant, admission, destroy, a lock) is e2e/ephemeral.e2e.ts's.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "../mocks";

const SCRIPT = path.join(REPO_ROOT, "scripts", "pr-stack.sh");

/** `pulumi` as the script calls it: answers from $STUB/<what>, records every call in $STUB/calls. */
const PULUMI = `#!/usr/bin/env bash
echo "pulumi $*\${PULUMI_SKIP_CHECKPOINTS:+ (PULUMI_SKIP_CHECKPOINTS=$PULUMI_SKIP_CHECKPOINTS)}" >>"$STUB/calls"
case "$1 $2" in
  "stack ls") [[ -f "$STUB/ls-fails" ]] && { echo "error: failed to list stacks: 403 Forbidden" >&2; exit 255; }; cat "$STUB/stacks.json" ;;
  "stack export") cat "$STUB/export-$4.json" 2>/dev/null || { echo "error: no stack named '$4' found" >&2; exit 255; } ;;
  "stack output") [[ -f "$STUB/output-fails" ]] && { echo "error: 403 Forbidden" >&2; exit 255; }
    [[ -f "$STUB/export-$4.json" ]] || { echo "error: no stack named '$4' found" >&2; exit 255; }; echo "cluster-id" ;;
  "stack rm") ;;
  # Reads the value on stdin as pulumi does: a writer to a stand-in that had already exited would
  # die of SIGPIPE, failing the script's pipeline under pipefail now and then.
  "config set") cat >/dev/null ;;
  "stack history") cat "$STUB/history-\${@: -1}.json" 2>/dev/null || echo "[]" ;;
  "state delete") [[ -f "$STUB/locked" ]] && { echo "error: the stack is currently locked by 1 lock(s)" >&2; exit 255; }; true ;;
  *) ;;
esac
`;

/** \`kubectl\` as the script calls it: namespaces in $STUB/ns-<name>; deleting one fails when $STUB/delete-fails exists. */
const KUBECTL = `#!/usr/bin/env bash
echo "kubectl $*" >>"$STUB/calls"
case "$1 $2" in
  "auth can-i") exit 0 ;;
  "get namespace") [[ -f "$STUB/ns-$3" ]] || { echo "Error from server (NotFound): namespaces \\"$3\\" not found" >&2; exit 1; } ;;
  "delete namespace") [[ -f "$STUB/delete-fails" ]] && { echo "error: timed out" >&2; exit 1; }; rm -f "$STUB/ns-$3" ;;
  "get namespaces") for f in "$STUB"/ns-*; do [[ -e "$f" ]] && echo "\${f##*/ns-}"; done; true ;;
esac
`;

/** `gh api repos/<repo>/pulls/<n> --jq …`: $STUB/pull-<n> holds "<state> <labels>"; none, the API fails. */
const GH = `#!/usr/bin/env bash
echo "gh $*" >>"$STUB/calls"
n="\${2##*/}"
cat "$STUB/pull-$n" 2>/dev/null || { echo "HTTP 502: Bad Gateway" >&2; exit 1; }
`;

/** A project directory with the stand-ins, the backend holding `stacks` (with their states). */
function project(
    stacks: Record<string, string[]>,
    options: {
        lsFails?: boolean;
        locked?: boolean;
        deleteFails?: boolean;
        namespaces?: string[];
        pulls?: Record<number, string>;
        /** The pull requests' template's esteira:expiry; none by default. */
        expiry?: { idleHours: number; keepLabel: string };
        /** Hours ago each stack's last update ended. */
        idleHours?: Record<string, number>;
    } = {},
) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "esteira-pr-stack-"));
    const stub = path.join(dir, ".stub");
    const bin = path.join(stub, "bin");
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: esteira\nruntime: nodejs\n");
    fs.mkdirSync(path.join(dir, "stacks"));
    fs.writeFileSync(path.join(dir, "stacks", "pr.template.yaml"), `config:\n  esteira:protect: false\n${options.expiry ? `  esteira:expiry: ${JSON.stringify(options.expiry)}\n` : ""}`);
    for (const [name, hours] of Object.entries(options.idleHours ?? {})) {
        const endTime = new Date(Date.now() - hours * 3600e3).toISOString();
        fs.writeFileSync(path.join(stub, `history-${name}.json`), JSON.stringify([{ version: 3, kind: "update", result: "succeeded", endTime }]));
    }
    fs.writeFileSync(path.join(bin, "pulumi"), PULUMI, { mode: 0o755 });
    fs.writeFileSync(path.join(bin, "gh"), GH, { mode: 0o755 });
    fs.writeFileSync(path.join(bin, "kubectl"), KUBECTL, { mode: 0o755 });
    for (const namespace of options.namespaces ?? []) fs.writeFileSync(path.join(stub, `ns-${namespace}`), "");
    fs.writeFileSync(path.join(stub, "stacks.json"), JSON.stringify(Object.keys(stacks).map((name) => ({ name: `organization/esteira/${name}` }))));
    for (const [name, bases] of Object.entries(stacks)) {
        const resources = bases.map((base) => ({ type: "pulumi:pulumi:StackReference", inputs: { name: `organization/esteira/${base}` } }));
        fs.writeFileSync(path.join(stub, `export-${name}.json`), JSON.stringify({ deployment: { resources } }));
    }
    if (options.lsFails) fs.writeFileSync(path.join(stub, "ls-fails"), "");
    if (options.locked) fs.writeFileSync(path.join(stub, "locked"), "");
    if (options.deleteFails) fs.writeFileSync(path.join(stub, "delete-fails"), "");
    for (const [n, state] of Object.entries(options.pulls ?? {})) fs.writeFileSync(path.join(stub, `pull-${n}`), `${state}\n`);
    // A policy pack that policy_args (scripts/delivery-lib.sh) takes as installed; the stand-in pulumi never starts it.
    const pack = path.join(stub, "policy");
    fs.mkdirSync(path.join(pack, "node_modules"), { recursive: true });
    fs.writeFileSync(path.join(pack, "analyzer"), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
    const run = (...args: string[]) => {
        const result = spawnSync("bash", [SCRIPT, ...args], {
            cwd: dir,
            encoding: "utf8",
            env: {
                ...process.env,
                PULUMI_SKIP_CHECKPOINTS: "",
                ESTEIRA_POLICY_PACK: pack,
                TENANT_KUBECONFIG: "{}",
                REGISTRY_TOKEN: "pull-token",
                STUB: stub,
                PATH: `${bin}:${process.env.PATH}`,
                GITHUB_REPOSITORY: "acme/shop",
                GITHUB_OUTPUT: path.join(stub, "step-output"),
            },
        });
        const read = (file: string) => (fs.existsSync(path.join(stub, file)) ? fs.readFileSync(path.join(stub, file), "utf8") : "");
        const calls = read("calls") ? read("calls").trim().split("\n") : [];
        const stepOutput = read("step-output");
        fs.rmSync(path.join(stub, "calls"), { force: true });
        fs.rmSync(path.join(stub, "step-output"), { force: true });
        return { code: result.status, output: `${result.stdout}${result.stderr}`, calls, stepOutput };
    };
    return { run, dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

describe("scripts/pr-stack.sh", function () {
    this.timeout(20_000);

    it("destroy fails loudly when the backend cannot be listed, instead of taking it for no stack", () => {
        const p = project({ "pr-9": ["review"] }, { lsFails: true });
        try {
            const { code, output, calls } = p.run("destroy", "9");
            assert.strictEqual(code, 1);
            assert.match(output, /403 Forbidden/);
            assert.match(output, /FAILED: cannot read the list of stacks in the backend/);
            assert.ok(!calls.some((c) => /^pulumi destroy/.test(c)), "nothing is destroyed");
        } finally {
            p.dispose();
        }
    });

    it("destroy of a stack the backend does not hold still deletes its namespace, and is otherwise nothing to do", () => {
        const p = project({ review: [] }, { namespaces: ["esteira-pr-9"] });
        try {
            const { code, output, calls } = p.run("destroy", "9");
            assert.strictEqual(code, 0, output);
            assert.match(output, /pr-9: no such stack/);
            assert.ok(calls.includes("kubectl delete namespace esteira-pr-9 --wait=false"));
            assert.ok(!calls.some((c) => /^pulumi (destroy|state|stack rm)/.test(c)));
        } finally {
            p.dispose();
        }
    });

    it("destroy clears the state through its lock, deletes the namespace, removes the stack, and never runs pulumi destroy", () => {
        const p = project({ review: [], "pr-9": [] }, { namespaces: ["esteira-pr-9"] });
        try {
            const { code, calls } = p.run("destroy", "9");
            assert.strictEqual(code, 0);
            assert.deepStrictEqual(
                calls.filter((c) => /^(pulumi (destroy|state|stack rm)|kubectl delete)/.test(c)),
                [
                    "pulumi state delete --all --yes -s pr-9",
                    "kubectl delete namespace esteira-pr-9 --wait=false",
                    "pulumi stack rm --yes -s pr-9",
                ],
                "no code of the pull request's state runs: its state is edited, its namespace deleted",
            );
        } finally {
            p.dispose();
        }
    });

    it("destroy of a locked stack fails fast, naming the lock, and deletes nothing", () => {
        const p = project({ "pr-9": [] }, { locked: true, namespaces: ["esteira-pr-9"] });
        try {
            const { code, output, calls } = p.run("destroy", "9");
            assert.strictEqual(code, 1);
            assert.match(output, /FAILED: pr-9 is locked by another update/);
            assert.ok(!calls.some((c) => /^kubectl delete|^pulumi stack rm/.test(c)), "nothing is deleted");
        } finally {
            p.dispose();
        }
    });

    it("a namespace that will not go keeps the stack, to be destroyed again", () => {
        const p = project({ "pr-9": [] }, { deleteFails: true, namespaces: ["esteira-pr-9"] });
        try {
            const { code, output, calls } = p.run("destroy", "9");
            assert.strictEqual(code, 1);
            assert.match(output, /FAILED: namespace esteira-pr-9 was not deleted/);
            assert.ok(!calls.some((c) => /^pulumi stack rm/.test(c)), "the stack is kept");
        } finally {
            p.dispose();
        }
    });

    it("list fails when the backend cannot be listed, and names the pr-<number> stacks", () => {
        const failing = project({ "pr-9": [] }, { lsFails: true });
        try {
            assert.strictEqual(failing.run("list").code, 1);
        } finally {
            failing.dispose();
        }
        const p = project({ review: [], local: [], "pr-7": [], "pr-9": [], "pr-x": [] });
        try {
            assert.deepStrictEqual(p.run("list").output.trim().split("\n"), ["pr-7", "pr-9"]);
        } finally {
            p.dispose();
        }
    });

    it("destroy-base refuses while pull requests' namespaces are in its cluster, naming them", () => {
        const p = project({ review: [] }, { namespaces: ["esteira-pr-3"] });
        try {
            const { code, output, calls } = p.run("destroy-base", "review");
            assert.strictEqual(code, 1);
            assert.match(output, /stack review is the base of esteira-pr-3/);
            assert.ok(!calls.some((c) => /^pulumi destroy/.test(c)));
        } finally {
            p.dispose();
        }
    });

    it("sweep destroys the stacks whose pull request is closed, keeps the open ones, and fails after reporting one the API cannot answer for", () => {
        const p = project({ review: [], "pr-1": [], "pr-2": [], "pr-3": [] }, { pulls: { 1: "closed", 2: "open" }, namespaces: ["esteira-pr-1"] });
        try {
            const { code, output, calls } = p.run("sweep");
            assert.strictEqual(code, 1);
            assert.match(output, /pr-2: pull request #2 is open, kept/);
            assert.match(output, /ERROR: pr-3: the GitHub API did not say whether pull request #3 is open: HTTP 502/);
            assert.match(output, /swept 1 stack\(s\)/);
            assert.deepStrictEqual(
                calls.filter((c) => /^(pulumi (destroy|stack rm)|kubectl delete)/.test(c)),
                ["kubectl delete namespace esteira-pr-1 --wait=false", "pulumi stack rm --yes -s pr-1"],
            );
        } finally {
            p.dispose();
        }
    });

    it("sweep --dry-run destroys nothing", () => {
        const p = project({ "pr-1": ["review"] }, { pulls: { 1: "closed" } });
        try {
            const { code, output, calls } = p.run("sweep", "--dry-run");
            assert.strictEqual(code, 0);
            assert.match(output, /pr-1: pull request #1 is closed: would destroy/);
            assert.ok(!calls.some((c) => /^pulumi (destroy|state|stack rm)|^kubectl delete/.test(c)));
        } finally {
            p.dispose();
        }
    });
    it("sweep expires an open pull request's stack idle longer than the template's esteira:expiry, keeps a labelled or recent one, and names the expired for the comment", () => {
        const p = project(
            { "pr-1": [], "pr-2": [], "pr-3": [], "pr-4": [] },
            {
                expiry: { idleHours: 48, keepLabel: "keep-environment" },
                pulls: { 1: "open bug", 2: "open keep-environment,bug", 3: "open", 4: "open" },
                idleHours: { "pr-1": 50, "pr-2": 500, "pr-3": 2 },
                namespaces: ["esteira-pr-1"],
            },
        );
        try {
            const { code, output, calls, stepOutput } = p.run("sweep");
            assert.strictEqual(code, 0, output);
            assert.match(output, /open pull requests' stacks expire after 48 h without a deploy \(label keep-environment keeps one\)/);
            assert.match(output, /pr-1: pull request #1 is open, but its stack has had no deploy for 50\.0\d\d h \(esteira:expiry\.idleHours: 48\): destroying/);
            assert.match(output, /pr-2: pull request #2 is open and labelled keep-environment, kept/);
            assert.match(output, /pr-3: pull request #3 is open, idle 2\.0\d\d h of 48, kept/);
            assert.match(output, /pr-4: pull request #4 is open, its stack never deployed, kept/);
            assert.deepStrictEqual(
                calls.filter((c) => /^(pulumi (destroy|stack rm)|kubectl delete)/.test(c)),
                ["kubectl delete namespace esteira-pr-1 --wait=false", "pulumi stack rm --yes -s pr-1"],
            );
            assert.strictEqual(stepOutput, "expired=[1]\nidle_hours=48\nkeep_label=keep-environment\n");
        } finally {
            p.dispose();
        }
    });

    it("sweep without esteira:expiry in the template keeps every open pull request's stack, however idle", () => {
        const p = project({ "pr-1": [] }, { pulls: { 1: "open" }, idleHours: { "pr-1": 5000 } });
        try {
            const { code, output, calls, stepOutput } = p.run("sweep");
            assert.strictEqual(code, 0, output);
            assert.match(output, /pr-1: pull request #1 is open, kept/);
            assert.ok(!calls.some((c) => /stack history/.test(c)), "it does not even ask");
            assert.strictEqual(stepOutput, "expired=[]\nidle_hours=\nkeep_label=\n");
        } finally {
            p.dispose();
        }
    });
    it("up runs the engine with the Kubernetes-only parallelism and without per-step checkpoints; preview with the same parallelism", () => {
        const p = project({});
        try {
            const up = p.run("up", "9", "--", "--diff");
            assert.strictEqual(up.code, 0, up.output);
            const [upCall] = up.calls.filter((c) => /^pulumi up /.test(c));
            assert.match(upCall, /^pulumi up --yes --skip-preview --parallel 32 -s pr-9 --policy-pack .* --diff \(PULUMI_SKIP_CHECKPOINTS=true\)$/);
            assert.ok(!up.calls.some((c) => /^pulumi cancel/.test(c)), "no lock is removed without --recover");
            const preview = p.run("preview", "9");
            assert.strictEqual(preview.code, 0, preview.output);
            assert.match(preview.calls.find((c) => /^pulumi preview /.test(c))!, /--parallel 32 -s pr-9 .*[^)]$/);
        } finally {
            p.dispose();
        }
    });

    it("up --recover removes the stack's lock first, then reads the stack back in the same up", () => {
        const p = project({});
        try {
            const { code, output, calls } = p.run("up", "9", "--recover");
            assert.strictEqual(code, 0, output);
            const cancel = calls.findIndex((c) => c === "pulumi cancel --yes -s pr-9");
            const up = calls.findIndex((c) => /^pulumi up .*--refresh --run-program -s pr-9 /.test(c));
            assert.ok(cancel >= 0 && up > cancel, calls.join("\n"));
            assert.match(output, /--recover: removing the lock of an interrupted update/);
            assert.strictEqual(p.run("preview", "9", "--recover").code, 2, "preview has no --recover");
        } finally {
            p.dispose();
        }
    });
});
