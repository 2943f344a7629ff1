/**
 * An environment drawn from the program itself: the components one evaluation registered, what
 * each owns, which component's outputs feed which, and which other stacks it reads, as a
 * Mermaid flowchart (GitHub renders it in docs/environments.md and in pull-request comments).
 */

/** A registration, as the mock monitor records it (lib/recorder.ts). */
export interface Registered {
    type: string;
    name: string;
    urn: string;
    parent: string;
    /** `<provider urn>::<provider id>`, or empty. */
    provider: string;
    dependencies: string[];
}

/** A read of a resource or another stack. */
export interface Read {
    type: string;
    urn: string;
    id: string;
    parent: string;
}

const STACK_REFERENCE = "pulumi:pulumi:StackReference";

/** `Deployment` for `kubernetes:apps/v1:Deployment`, `kubernetes provider` for `pulumi:providers:kubernetes`. */
function shortType(type: string): string {
    if (type.startsWith("pulumi:providers:")) return `${type.slice("pulumi:providers:".length)} provider`;
    return type.slice(type.lastIndexOf(":") + 1);
}

/** `A · B ×2`: the kinds of resources, counted, in order of first appearance. */
function summary(types: string[]): string {
    const counts = new Map<string, number>();
    for (const type of types) counts.set(type, (counts.get(type) ?? 0) + 1);
    return [...counts].map(([type, count]) => (count > 1 ? `${type} ×${count}` : type)).join(" · ");
}

export function environmentDiagram(resources: Registered[], reads: Read[]): string {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const readParent = new Map(reads.map((r) => [r.urn, r.parent]));
    /** The top-level component a resource (or a read, through the resource that read it) belongs to. */
    const ownerOf = (urn: string): Registered | undefined => {
        let node = byUrn.get(readParent.get(urn) ?? urn);
        while (node && byUrn.has(node.parent)) node = byUrn.get(node.parent);
        return node;
    };
    // Sorted, not in registration order, which the engine does not fix.
    const components = resources.filter((r) => !byUrn.has(r.parent)).sort((a, b) => (a.type + a.name).localeCompare(b.type + b.name));
    const id = new Map(components.map((c, i) => [c.urn, `c${i}`]));

    const lines = ["flowchart LR"];
    for (const component of components) {
        const owned = resources.filter((r) => r !== component && ownerOf(r.urn) === component).map((r) => shortType(r.type));
        const readHere = reads
            .filter((r) => r.type !== STACK_REFERENCE && ownerOf(r.parent) === component)
            .map((r) => `${shortType(r.type)} (read)`);
        const contents = summary([...owned, ...readHere].sort());
        lines.push(`    ${id.get(component.urn)}["${shortType(component.type)} ${component.name}${contents ? `<br/>${contents}` : ""}"]`);
    }

    const edges = new Set<string>();
    for (const resource of resources) {
        const to = ownerOf(resource.urn);
        const sources = [...resource.dependencies, resource.provider.slice(0, resource.provider.lastIndexOf("::"))];
        for (const from of sources.map(ownerOf)) {
            if (from && to && from !== to) edges.add(`    ${id.get(from.urn)} --> ${id.get(to.urn)}`);
        }
    }
    const stacks = [...new Set(reads.filter((r) => r.type === STACK_REFERENCE).map((r) => r.id))].sort();
    stacks.forEach((stack, i) => lines.push(`    s${i}[("stack ${stack.slice(stack.lastIndexOf("/") + 1)}")]`));
    for (const read of reads.filter((r) => r.type === STACK_REFERENCE)) {
        const owner = ownerOf(read.parent);
        if (owner) edges.add(`    s${stacks.indexOf(read.id)} -.-> ${id.get(owner.urn)}`);
    }
    return [...lines, ...[...edges].sort()].join("\n");
}
