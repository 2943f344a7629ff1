/**
 * Renames that would replace data. A namespace, a database cluster, a database and its user, and a
 * GitHub environment are named after the environment (or a key such as database.name): change the
 * name and the engine replaces the object, an empty one in place of the old (the old database
 * cluster survives only through retainOnDelete; the old namespace goes with its volume claims).
 * The program knows the names it deployed last time from its own `statefulNames` output, read
 * through a StackReference to this very stack before anything is built (index.ts), and refuses a
 * change of any of them unless the stack file acknowledges it in `esteira:acknowledgedRenames`.
 */
import { describe } from "./errors";
import type { RawConfig } from "./stack";

/** What each recorded name is, for messages, and the keys that set it. */
const WHAT: Record<string, { noun: string; keys: string; loss: string }> = {
    namespace: {
        noun: "the namespace",
        keys: "esteira:namespace, else <project>-<environment>",
        loss: "the old namespace is deleted with everything in it, its volume claims and their data among them",
    },
    databaseCluster: {
        noun: "the database cluster",
        keys: "database.name, else <project>-<environment>-db",
        loss: "DigitalOcean creates a new, empty cluster; the old one and its data are kept apart (retainOnDelete) or deleted",
    },
    database: {
        noun: "the database",
        keys: "database.databaseName, else <project>-<environment> on a shared server",
        loss: "a new, empty database is created and the old one dropped",
    },
    databaseUser: {
        noun: "the database user",
        keys: "database.user, else <project>-<environment> on a shared server",
        loss: "a new user (a new password) replaces the old, which is dropped",
    },
    githubEnvironment: {
        noun: "the GitHub environment",
        keys: "github.environment, else the environment's name",
        loss: "a new environment, without the old one's deployment history, is created and the old one deleted",
    },
};

/** How a recorded name is described: `namespaces.<key>` are the environment's other namespaces. */
function whatIs(what: string): { noun: string; keys: string; loss: string } {
    if (WHAT[what]) return WHAT[what];
    const key = what.slice("namespaces.".length);
    return {
        ...WHAT.namespace,
        noun: `the namespace of namespaces.${key}`,
        keys: `namespaces.${key}.name, else <project>-<environment>-${key}`,
    };
}

/** The names of what holds data, as the components will create them: exported as `statefulNames`. */
export function statefulNamesOf(config: {
    namespaces: readonly { key?: string; name: string; adoptNamespace?: boolean }[];
    database?: { mode: string; name?: string; databaseName?: string; user?: string };
    github?: { environment: string; managedBy?: string };
}): Record<string, string> {
    const names: Record<string, string> = {};
    for (const namespace of config.namespaces) {
        // An adopted namespace is never created or deleted by the stack: no data of its goes with a rename.
        if (namespace.adoptNamespace) continue;
        names[namespace.key === undefined ? "namespace" : `namespaces.${namespace.key}`] = namespace.name;
    }
    const database = config.database;
    if (database?.mode === "digitalocean" && database.name) names.databaseCluster = database.name;
    if (database?.databaseName) names.database = database.databaseName;
    if (database?.user) names.databaseUser = database.user;
    // An environment another stack manages is that stack's to name.
    if (config.github && config.github.managedBy === undefined) names.githubEnvironment = config.github.environment;
    return names;
}

/** One message per name that would change without the stack file saying so. */
export function renameProblems(raw: RawConfig, current: Record<string, string>, acknowledged: Record<string, string> = {}): string[] {
    const previous = raw.previousStatefulNames ?? {};
    const problems: string[] = [];
    for (const [what, before] of Object.entries(previous)) {
        const now = current[what];
        if (now === undefined || now === before || acknowledged[what] === now) continue;
        const { noun, keys, loss } = whatIs(what);
        problems.push(
            `${raw.stack}: ${noun} was deployed as ${describe(before)} and would now be ${describe(now)} (its name follows ${keys}): the engine would replace it; ${loss}. ` +
                `To keep it, set its name back to ${describe(before)}; to rename it on purpose (after a backup), set esteira:acknowledgedRenames.${what}: ${describe(now)} in Pulumi.${raw.stack}.yaml`,
        );
    }
    for (const what of Object.keys(acknowledged)) {
        if (!(what in WHAT) && !what.startsWith("namespaces.")) {
            problems.push(
                `${raw.stack}: acknowledgedRenames.${what}: names nothing that holds data; use one of ${Object.keys(WHAT).join(", ")}, namespaces.<key>`,
            );
        }
    }
    return problems;
}
