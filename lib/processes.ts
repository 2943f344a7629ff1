/** This machine's processes, read from /proc: what the benchmark measures and the e2e suite kills. */
import * as fs from "fs";

export interface ProcessEntry {
    pid: number;
    ppid: number;
    /** The command name (`comm`), which may hold spaces. */
    command: string;
    /** The fields of /proc/<pid>/stat after the command name: state, ppid, …, rss (index 21). */
    fields: string[];
}

/** One reading of /proc; a process that ends meanwhile is left out. */
export function processTable(): ProcessEntry[] {
    const table: ProcessEntry[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        let stat: string;
        try {
            stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
        } catch {
            continue; // gone meanwhile
        }
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        table.push({
            pid: Number(entry),
            ppid: Number(fields[1]),
            command: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
            fields,
        });
    }
    return table;
}

/** `root` and every process below it, by parent pid, in one reading of /proc (root first). */
export function processTree(root: number, table = processTable()): ProcessEntry[] {
    const children = new Map<number, ProcessEntry[]>();
    for (const proc of table) children.set(proc.ppid, [...(children.get(proc.ppid) ?? []), proc]);
    const tree = table.filter((proc) => proc.pid === root);
    for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i].pid) ?? []));
    return tree;
}
