/**
 * What the doc tests read in a Markdown file: its fences, headings, links and the commands it
 * quotes. Only as much of CommonMark as the docs here use; each finding names the line.
 */

/** A fence opener or closer: three or more backticks or tildes, then an optional info string. */
const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;

/** Each line of the text, with whether it is inside a fenced code block (fence lines count as inside). */
export function lines(text: string): { line: string; number: number; fenced: boolean }[] {
    const out: { line: string; number: number; fenced: boolean }[] = [];
    let open: string | undefined;
    text.split("\n").forEach((line, index) => {
        const fence = FENCE.exec(line);
        if (open === undefined && fence) {
            open = fence[1];
            out.push({ line, number: index + 1, fenced: true });
        } else if (open !== undefined) {
            if (fence && fence[1][0] === open[0] && fence[1].length >= open.length && fence[2].trim() === "") open = undefined;
            out.push({ line, number: index + 1, fenced: true });
        } else {
            out.push({ line, number: index + 1, fenced: false });
        }
    });
    return out;
}

/**
 * Fences that are never closed, and fences that open inside another (a line such as ```yaml inside
 * a block is text to CommonMark, so it means the block before it was not closed).
 */
export function fenceProblems(text: string): string[] {
    const problems: string[] = [];
    let open: { marker: string; number: number } | undefined;
    text.split("\n").forEach((line, index) => {
        const fence = FENCE.exec(line);
        if (!fence) return;
        const [, marker, info] = fence;
        if (open === undefined) {
            open = { marker, number: index + 1 };
        } else if (marker[0] === open.marker[0] && marker.length >= open.marker.length) {
            if (info.trim() === "") open = undefined;
            else
                problems.push(
                    `line ${index + 1}: a fence opens (${line.trim()}) inside the block opened at line ${open.number}: close that one first`,
                );
        }
    });
    if (open) problems.push(`line ${open.number}: the fence opened here (${open.marker}) is never closed`);
    return problems;
}

/** Headings outside fences, by level; and what is wrong with them. */
export function headings(text: string): { level: number; text: string; number: number }[] {
    return lines(text)
        .filter(({ line, fenced }) => !fenced && /^#{1,6}\s/.test(line))
        .map(({ line, number }) => ({ level: /^#+/.exec(line)![0].length, text: line.replace(/^#+\s+/, "").trim(), number }));
}

/** A `#Title` with no space, a second level-1 heading, a first heading that is not level 1, a skipped level, an empty heading. */
export function headingProblems(text: string): string[] {
    const problems: string[] = [];
    for (const { line, number, fenced } of lines(text)) {
        if (!fenced && /^#{1,6}[^#\s]/.test(line)) problems.push(`line ${number}: "${line}" is not a heading: put a space after the #`);
        if (!fenced && /^#{7,}/.test(line)) problems.push(`line ${number}: "${line}" has more than six #`);
    }
    const all = headings(text);
    if (all.length > 0 && all[0].level !== 1)
        problems.push(`line ${all[0].number}: the first heading must be a title (#), found ${"#".repeat(all[0].level)}`);
    all.slice(1).forEach((heading, index) => {
        if (heading.level === 1) problems.push(`line ${heading.number}: a second title (#) "${heading.text}": one per document`);
        if (heading.level > all[index].level + 1)
            problems.push(`line ${heading.number}: "${heading.text}" skips from level ${all[index].level} to ${heading.level}`);
        if (heading.text === "") problems.push(`line ${heading.number}: an empty heading`);
    });
    return problems;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes; repeats get -1, -2. */
export function anchors(text: string): Set<string> {
    const seen = new Map<string, number>();
    const out = new Set<string>();
    for (const heading of headings(text)) {
        const slug = heading.text
            .toLowerCase()
            .replace(/[^\p{L}\p{N}\s_-]/gu, "")
            .replace(/\s/g, "-");
        const count = seen.get(slug) ?? 0;
        seen.set(slug, count + 1);
        out.add(count === 0 ? slug : `${slug}-${count}`);
    }
    return out;
}

/** Relative links outside fences: `[text](target)`, with the line they are on. */
export function relativeLinks(text: string): { target: string; number: number }[] {
    const out: { target: string; number: number }[] = [];
    for (const { line, number, fenced } of lines(text)) {
        if (fenced) continue;
        for (const match of line.matchAll(/\]\(([^)\s]+)\)/g)) {
            if (!/^[a-z]+:/i.test(match[1])) out.push({ target: match[1], number });
        }
    }
    return out;
}

/** The places a doc quotes a command: code spans outside fences, and whole lines inside shell fences. */
function commandTexts(text: string): { text: string; number: number }[] {
    const out: { text: string; number: number }[] = [];
    let shell = false;
    let inside = false;
    for (const { line, number, fenced } of lines(text)) {
        const fence = FENCE.exec(line);
        if (fence && (!inside || fence[2].trim() === "")) {
            // An opener decides whether its block is shell; a closer ends it.
            shell = !inside && /^(sh|bash|shell|console)?$/.test(fence[2].trim());
            inside = !inside;
            continue;
        }
        if (fenced) {
            if (shell) out.push({ text: line.replace(/\s#.*$/, ""), number });
            continue;
        }
        for (const match of line.matchAll(/`([^`]+)`/g)) out.push({ text: match[1], number });
    }
    return out;
}

/** `npm run <script>` as quoted, by script name. */
export function quotedNpmScripts(text: string): { script: string; number: number }[] {
    return commandTexts(text).flatMap(({ text: command, number }) =>
        [...command.matchAll(/\bnpm run(?: -s)? ([\w:.-]+)/g)].map((match) => ({ script: match[1], number })),
    );
}

/**
 * `scripts/<name>.sh` as quoted, with the flags written after it: the `--flag`s before a bare `--`
 * (what follows that goes to another program), a pipe, `;` or `&&`.
 */
export function quotedScripts(text: string): { script: string; flags: string[]; number: number }[] {
    return commandTexts(text).flatMap(({ text: command, number }) =>
        [...command.matchAll(/\bscripts\/([\w.-]+\.sh)([^|;&]*)/g)].map((match) => {
            const flags: string[] = [];
            for (const token of match[2].trim().split(/\s+/)) {
                const word = token.replace(/^\[+|\]+$/g, "");
                if (word === "--") break;
                const flag = /^(--?[a-zA-Z][\w-]*)/.exec(word)?.[1];
                if (flag) flags.push(flag);
            }
            return { script: match[1], flags, number };
        }),
    );
}
