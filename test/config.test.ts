import * as path from "path";
import * as os from "os";
import * as assert from "assert";
import { imageReferenceProblem } from "../vocabulary/rules";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, loadConfig, parseConfig, RawConfig } from "../config";
import { MAX_SEEDING_SERVICE_NAME, RULE_NAMES } from "../config/cross-key-rules";
import { SECRET_KEYS } from "../vocabulary/schema";
import { isSecretOutput, promiseOf, Recorder, setConfig } from "./mocks";

const token = () => pulumi.secret("t0ken");

/** The cross-key rules (config/cross-key-rules.ts) the tests below hold, by name. */
const TESTED_RULES = new Set<string>();

/** A test of the named cross-key rules, with their exact messages; a new rule needs one. */
function itHolds(rules: string[], title: string, fn: () => void | Promise<void>) {
    for (const rule of rules) TESTED_RULES.add(rule);
    it(`${title} [${rules.join(", ")}]`, fn);
}

/** A minimal valid configuration; each rule below breaks one thing in it. */
function valid(): Record<string, any> {
    return {
        protect: false,
        registry: { server: "ghcr.io", username: "bot" },
        services: { api: { image: "ghcr.io/acme/api:1" } },
    };
}

/** Every secret key was set with `--secret`, as it must be. */
const ENCRYPTED = Object.values(SECRET_KEYS).map((secret) => secret.key);

function raw(values: Record<string, unknown>, secrets: RawConfig["secrets"] = { registryToken: token() }): RawConfig {
    return { stack: "homolog", project: "esteira", organization: "acme", values, secrets, secretKeys: ENCRYPTED, githubOwner: "acme" };
}

/** The problems parsing reports (none when it succeeds), with the secret maps given. */
function problemsOf(values: Record<string, unknown>, secretMaps?: RawConfig["secretMaps"]): readonly string[] {
    try {
        parseConfig({ ...raw(values), secretMaps });
    } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
    }
    return [];
}

/** Asserts that parsing fails with exactly these problems, in order. */
function assertProblems(values: Record<string, unknown>, expected: string[], secrets?: RawConfig["secrets"]) {
    assert.throws(
        () => parseConfig(raw(values, secrets)),
        (err: unknown) => {
            assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
            assert.deepStrictEqual(err.problems, expected);
            return true;
        },
    );
}

describe("config", () => {
    describe("valid configuration", () => {
        it("derives environment and namespace from the stack and project", () => {
            const config = parseConfig(raw(valid()));
            assert.strictEqual(config.environment, "homolog");
            assert.strictEqual(config.namespace, "esteira-homolog");
            assert.deepStrictEqual(config.cluster, { mode: "kubeconfig", kubeconfig: undefined });
            assert.strictEqual(config.database, undefined);
        });

        it("keeps an explicit environment and namespace", () => {
            const config = parseConfig(raw({ ...valid(), environment: "staging", namespace: "shop-stg" }));
            assert.strictEqual(config.environment, "staging");
            assert.strictEqual(config.namespace, "shop-stg");
        });

        it("names the default namespace after an explicit environment", () => {
            assert.strictEqual(parseConfig(raw({ ...valid(), environment: "staging" })).namespace, "esteira-staging");
        });

        it("turns YAML booleans and numbers written in plain decimal in env into strings", () => {
            const values = valid();
            values.services.api.env = { DEBUG: true, WORKERS: 4, LOG_LEVEL: "INFO" };
            const envWrittenAs = () => "4";
            assert.deepStrictEqual(parseConfig({ ...raw(values), envWrittenAs }).services.api.env, {
                DEBUG: "true",
                WORKERS: "4",
                LOG_LEVEL: "INFO",
            });
        });

        it("a message says what a key expects, with one example, and what was received as the stack file wrote it", () => {
            const values = valid();
            values.services.api.port = "8080";
            values.services.api.replicas = [2];
            values.services.api.image = "ghcr.io/acme/api:1";
            values.services.api.command = null;
            assertProblems({ ...values, namespace: 7, github: { repository: "shop", deployFrom: "main" } }, [
                'homolog: namespace: expected a string (e.g. "text"), received the number 7: quote it ("7")',
                'homolog: github.deployFrom: deployFrom is "all", "protected", or patterns {branches: [...], tags: [...]}, e.g. deployFrom: protected or deployFrom: {branches: [main]}; received "main"',
                'homolog: services.api.port: expected a number (e.g. 3), received the string "8080": write the number without quotes',
                "homolog: services.api.replicas: expected a number (e.g. 3), received a list, [2]",
                "homolog: services.api.command: expected a list (e.g. [a, b]), received null (the key has no value in the stack file)",
            ]);
        });

        it("reports every problem at once", () => {
            assert.throws(
                () => parseConfig(raw({ ...valid(), protect: "no", namespace: "Bad" }, {})),
                (err: ConfigError) => err.problems.length === 3,
            );
        });

        it("prints a message that names the stack file", () => {
            assert.throws(() => parseConfig(raw({ ...valid(), protect: "no" })), {
                message:
                    'invalid configuration for stack "homolog" (fix Pulumi.homolog.yaml or `pulumi config set`):\n' +
                    '  - homolog: protect: expected true or false, received "no"',
            });
        });
    });

    describe("rules, each with its exact message", () => {
        it("protect is required", () => {
            const { protect: _, ...values } = valid();
            assertProblems(values, ["homolog: protect: is required (expected boolean)"]);
        });

        it("protect is a boolean", () => {
            assertProblems({ ...valid(), protect: "yes" }, ['homolog: protect: expected true or false, received "yes"']);
        });

        it("registryToken is required", () => {
            assertProblems(
                valid(),
                [
                    "homolog: esteira:registryToken: is required (a registry token with pull rights); set it with `pulumi config set --secret esteira:registryToken <token> -s homolog`",
                ],
                {},
            );
        });

        it("registry is required", () => {
            const { registry: _, ...values } = valid();
            assertProblems(values, ["homolog: registry: is required (expected object)"]);
        });

        it("registry.server must not be empty", () => {
            assertProblems({ ...valid(), registry: { server: "", username: "bot" } }, [
                'homolog: registry.server: must not be empty; received ""',
            ]);
        });

        it("registry.pullSecretName is a DNS-1123 label", () => {
            assertProblems({ ...valid(), registry: { server: "ghcr.io", username: "bot", pullSecretName: "GHCR_secret" } }, [
                `homolog: registry.pullSecretName: pullSecretName must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit; received "GHCR_secret"`,
            ]);
        });

        it("namespace is a DNS-1123 label", () => {
            assertProblems({ ...valid(), namespace: "Shop_Homolog" }, [
                `homolog: namespace: namespace must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit; received "Shop_Homolog"`,
            ]);
        });

        it("namespace is at most 63 characters", () => {
            const long = "a".repeat(64);
            assertProblems({ ...valid(), namespace: long }, [
                `homolog: namespace: namespace must be at most 63 characters; received "${long}"`,
            ]);
        });

        it("environment is a DNS-1123 label", () => {
            assertProblems({ ...valid(), environment: "Prod!" }, [
                `homolog: environment: environment must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit; received "Prod!"`,
            ]);
        });

        it("the default namespace must be a valid name too", () => {
            const environment = "e".repeat(60);
            assertProblems({ ...valid(), environment }, [
                `homolog: namespace: the default "<project>-<environment>" gives "esteira-${environment}", which is not a DNS-1123 label; set esteira:namespace explicitly`,
            ]);
        });

        it("unknown top-level keys are named", () => {
            assertProblems({ ...valid(), servces: null }, [
                `homolog: esteira: unknown key "servces": check the spelling against docs/configuration.md`,
            ]);
        });

        it("cluster.mode must be known", () => {
            assertProblems({ ...valid(), cluster: { mode: "eks" } }, [
                'homolog: cluster.mode: mode must be one of: digitalocean, kubeconfig; received "eks"',
            ]);
        });

        it("services is required", () => {
            const { services: _, ...values } = valid();
            assertProblems(values, ["homolog: services: is required (expected a map)"]);
        });

        it("services has at least one service", () => {
            assertProblems({ ...valid(), services: {} }, ["homolog: services: at least one service is required"]);
        });

        it("service names are DNS-1035 labels", () => {
            assertProblems({ ...valid(), services: { "1api": { image: "x" } } }, [
                `homolog: services.1api: a service name must be a DNS-1035 label: lower-case letters, digits and '-', starting with a letter; received "1api"`,
            ]);
        });

        it("unknown service keys are named", () => {
            assertProblems({ ...valid(), services: { api: { image: "x", replcas: 2 } } }, [
                `homolog: services.api: unknown key "replcas": check the spelling against docs/configuration.md`,
            ]);
        });

        it("image is required", () => {
            assertProblems({ ...valid(), services: { api: {} } }, [
                "homolog: services.api.image: is required: an image reference, build: {context, …}, promoteFrom: <stack> or verifiedIn: <stack>",
            ]);
        });

        it("port is between 1 and 65535", () => {
            assertProblems({ ...valid(), services: { api: { image: "x", port: 70000 } } }, [
                "homolog: services.api.port: must be <= 65535; received 70000",
            ]);
        });

        it("port is an integer", () => {
            assertProblems({ ...valid(), services: { api: { image: "x", port: 80.5 } } }, [
                "homolog: services.api.port: expected a whole number (e.g. 3), received 80.5",
            ]);
        });

        it("replicas is not negative", () => {
            assertProblems({ ...valid(), services: { api: { image: "x", replicas: -1 } } }, [
                "homolog: services.api.replicas: must be >= 0; received -1",
            ]);
        });

        it("service.type is LoadBalancer, ClusterIP or NodePort", () => {
            assertProblems({ ...valid(), services: { api: { image: "x", service: { type: "Loadbalancer" } } } }, [
                'homolog: services.api.service.type: must be one of "LoadBalancer", "ClusterIP", "NodePort"; received "Loadbalancer"',
            ]);
        });

        it("autoscaling.minReplicas <= maxReplicas", () => {
            assertProblems({ ...valid(), services: { api: { image: "x", autoscaling: { minReplicas: 5, maxReplicas: 3 } } } }, [
                "homolog: services.api.autoscaling: minReplicas (5) must be <= maxReplicas (3)",
            ]);
        });

        it("autoscaling.minReplicas is at least 1", () => {
            assertProblems({ ...valid(), services: { api: { image: "x", autoscaling: { minReplicas: 0, maxReplicas: 3 } } } }, [
                "homolog: services.api.autoscaling.minReplicas: must be >= 1; received 0",
            ]);
        });

        it("utilisation targets are percentages", () => {
            assertProblems(
                {
                    ...valid(),
                    services: { api: { image: "x", autoscaling: { minReplicas: 1, maxReplicas: 3, cpuUtilizationPercent: 150 } } },
                },
                ["homolog: services.api.autoscaling.cpuUtilizationPercent: must be <= 100; received 150"],
            );
        });

        it("replicas and autoscaling exclude each other", () => {
            assertProblems(
                { ...valid(), services: { api: { image: "x", replicas: 2, autoscaling: { minReplicas: 2, maxReplicas: 4 } } } },
                [
                    "homolog: services.api.replicas: replicas (2) cannot be set together with autoscaling: the HorizontalPodAutoscaler owns the replica count; remove replicas or autoscaling",
                ],
            );
        });

        it("env names are valid variable names", () => {
            assertProblems({ ...valid(), services: { api: { image: "x", env: { "LOG-LEVEL": "INFO" } } } }, [
                `homolog: services.api.env: "LOG-LEVEL" is not a valid environment variable name: use letters, digits and '_', not starting with a digit`,
            ]);
        });

        it("secretEnv names are valid variable names", () => {
            assertProblems({ ...valid(), services: { api: { image: "x", secretEnv: { "1TOKEN": { secretName: "s", key: "k" } } } } }, [
                `homolog: services.api.secretEnv: "1TOKEN" is not a valid environment variable name: use letters, digits and '_', not starting with a digit`,
            ]);
        });

        it("a variable is in env or secretEnv, not both", () => {
            assertProblems(
                { ...valid(), services: { api: { image: "x", env: { TOKEN: "a" }, secretEnv: { TOKEN: { secretName: "s", key: "k" } } } } },
                [`homolog: services.api.secretEnv: "TOKEN" is set in both env and secretEnv; keep it in one of them`],
            );
        });

        it("secretEnv names an existing-style Secret", () => {
            assertProblems(
                { ...valid(), services: { api: { image: "x", secretEnv: { TOKEN: { secretName: "Db_Creds", key: "url" } } } } },
                [
                    `homolog: services.api.secretEnv.TOKEN.secretName: secretName must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit; received "Db_Creds"`,
                ],
            );
        });

        it("requests do not exceed limits", () => {
            assertProblems(
                { ...valid(), services: { api: { image: "x", resources: { requests: { memoryMiB: 512 }, limits: { memoryMiB: 256 } } } } },
                ["homolog: services.api.resources: requests.memoryMiB (512) must be <= limits.memoryMiB (256)"],
            );
        });

        it("the ephemeral-storage request does not exceed its limit", () => {
            assertProblems(
                {
                    ...valid(),
                    services: {
                        api: { image: "x", resources: { requests: { ephemeralStorageMiB: 1024 }, limits: { ephemeralStorageMiB: 512 } } },
                    },
                },
                ["homolog: services.api.resources: requests.ephemeralStorageMiB (1024) must be <= limits.ephemeralStorageMiB (512)"],
            );
        });

        it("ephemeral storage is at least 1 MiB", () => {
            assertProblems({ ...valid(), services: { api: { image: "x", resources: { limits: { ephemeralStorageMiB: 0 } } } } }, [
                "homolog: services.api.resources.limits.ephemeralStorageMiB: must be >= 1; received 0",
            ]);
        });

        it("probe paths start with /", () => {
            assertProblems({ ...valid(), services: { api: { image: "x", probes: { readiness: { path: "readyz" } } } } }, [
                `homolog: services.api.probes.readiness.path: path must start with '/'; received "readyz"`,
            ]);
        });

        it("probe periods are at least 1 second", () => {
            assertProblems({ ...valid(), services: { api: { image: "x", probes: { liveness: { periodSeconds: 0 } } } } }, [
                "homolog: services.api.probes.liveness.periodSeconds: must be >= 1; received 0",
            ]);
        });
    });

    describe("workload rules (services, workers, jobs), each with its exact message", () => {
        const withWorkloads = (extra: Record<string, unknown>) => ({ ...valid(), ...extra });
        const job = (settings: Record<string, unknown> = {}) => ({ image: "x", schedule: "0 3 * * *", ...settings });

        it("accepts workers and jobs beside the services and hands each its Args", () => {
            const config = parseConfig(
                raw(
                    withWorkloads({ workers: { mailer: { image: "x", command: ["celery"] } }, jobs: { backup: job({ timeZone: "UTC" }) } }),
                ),
            );
            assert.deepStrictEqual(config.workers.mailer.command, ["celery"]);
            assert.deepStrictEqual(config.workers.mailer.image, { ref: "x" });
            assert.strictEqual(config.jobs.backup.schedule, "0 3 * * *");
            assert.strictEqual(config.jobs.backup.environment, "homolog");
            assert.deepStrictEqual(config.services.api.image, { ref: "ghcr.io/acme/api:1" });
        });

        itHolds(["workloads", "workload-name-unique"], "a name is used once across services, workers and jobs", () => {
            assertProblems(withWorkloads({ workers: { api: { image: "x" } }, jobs: { api: job() } }), [
                'homolog: workers.api: the name "api" is taken by services.api; services, workers and jobs name their Kubernetes objects and images alike, so use each name once',
                'homolog: jobs.api: the name "api" is taken by workers.api; services, workers and jobs name their Kubernetes objects and images alike, so use each name once',
            ]);
        });

        it("a worker's probe is a command or a TCP port", () => {
            assertProblems(withWorkloads({ workers: { mailer: { image: "x", probes: { liveness: { periodSeconds: 5 } } } } }), [
                "homolog: workers.mailer.probes.liveness: set exactly one of exec or tcpPort; received none",
            ]);
        });

        it("a worker's exec probe runs a command", () => {
            assertProblems(withWorkloads({ workers: { mailer: { image: "x", probes: { readiness: { exec: [] } } } } }), [
                "homolog: workers.mailer.probes.readiness.exec: exec must have at least one element; received []",
            ]);
        });

        it("a worker has no HTTP keys", () => {
            assertProblems(withWorkloads({ workers: { mailer: { image: "x", port: 8000 } } }), [
                `homolog: workers.mailer: unknown key "port": check the spelling against docs/configuration.md`,
            ]);
        });

        itHolds(["build-needs-images"], "a worker's build needs esteira:images.repository", () => {
            assertProblems(withWorkloads({ workers: { mailer: { image: { build: { context: "app" } } } } }), [
                "homolog: workers.mailer.image.build: needs esteira:images.repository (e.g. ghcr.io/<owner>/<repo>) to push the image to",
            ]);
        });

        itHolds(["database-url-from-database"], "DATABASE_URL is not set by hand on a job that gets the database", () => {
            assertProblems(
                withWorkloads({ database: { mode: "external" }, jobs: { report: job({ env: { DATABASE_URL: "postgres://old" } }) } }),
                [
                    "homolog: jobs.report: DATABASE_URL comes from the db-credentials secret when the stack has a database; remove it from env/secretEnv, or set database: false on the job",
                ],
                { registryToken: token(), databaseUrl: token() },
            );
        });

        it("a job has a schedule", () => {
            assertProblems(withWorkloads({ jobs: { backup: { image: "x" } } }), [
                'homolog: jobs.backup.schedule: is required: a cron schedule such as "0 3 * * *"',
            ]);
        });

        it("a job's schedule is a cron schedule", () => {
            assertProblems(withWorkloads({ jobs: { backup: job({ schedule: "every night" }) } }), [
                'homolog: jobs.backup.schedule: schedule must be a cron schedule of five fields, e.g. "*/15 * * * *", or @hourly, @daily, …; received "every night"',
            ]);
        });

        it("a job's name leaves room for its runs' names", () => {
            const name = `b${"a".repeat(52)}`;
            assertProblems(withWorkloads({ jobs: { [name]: job() } }), [
                `homolog: jobs.${name}: a job name must be at most 52 characters (each run's Job adds 11); received "${name}"`,
            ]);
        });

        it("a job's concurrencyPolicy is Forbid, Replace or Allow", () => {
            assertProblems(withWorkloads({ jobs: { backup: job({ concurrencyPolicy: "forbid" }) } }), [
                'homolog: jobs.backup.concurrencyPolicy: must be one of "Forbid", "Replace", "Allow"; received "forbid"',
            ]);
        });

        it("a job with a persistent path never runs two pods at once", () => {
            assertProblems(
                withWorkloads({
                    jobs: { backup: job({ concurrencyPolicy: "Allow", writablePaths: { "/backups": { sizeMiB: 10, persistent: true } } }) },
                }),
                [
                    "homolog: jobs.backup.concurrencyPolicy: Allow can run two pods at once, which a persistent writable path (ReadWriteOnce) cannot serve on two nodes; use Forbid or Replace",
                ],
            );
        });

        it("writable paths are absolute and normalised", () => {
            assertProblems({ ...valid(), services: { api: { image: "x", writablePaths: { "var/cache": { sizeMiB: 64 } } } } }, [
                `homolog: services.api.writablePaths: "var/cache" must be an absolute path such as /var/cache/nginx (no trailing '/', '.' or '..')`,
            ]);
        });

        it("writable paths do not share a volume name", () => {
            assertProblems(
                { ...valid(), services: { api: { image: "x", writablePaths: { "/a/b": { sizeMiB: 1 }, "/a-b": { sizeMiB: 1 } } } } },
                [`homolog: services.api.writablePaths: "/a/b" and "/a-b" would share the volume name a-b; rename one`],
            );
        });

        it("emptyDir writable paths fit in the ephemeral-storage limit they count against", () => {
            assertProblems({ ...valid(), services: { api: { image: "x", writablePaths: { "/cache": { sizeMiB: 1024 } } } } }, [
                "homolog: services.api.writablePaths: the emptyDir paths add up to 1024 MiB, more than resources.limits.ephemeralStorageMiB (512) they count against; raise that limit or make them smaller (or persistent)",
            ]);
            const fits = { "/cache": { sizeMiB: 1024 }, "/models": { sizeMiB: 8192, persistent: true } };
            assert.deepStrictEqual(
                problemsOf({
                    ...valid(),
                    services: { api: { image: "x", writablePaths: fits, resources: { limits: { ephemeralStorageMiB: 2048 } } } },
                }),
                [],
            );
        });

        it("a writable path has a size", () => {
            assertProblems({ ...valid(), services: { api: { image: "x", writablePaths: { "/cache": {} } } } }, [
                "homolog: services.api.writablePaths./cache.sizeMiB: is required (expected number)",
            ]);
        });

        it("a persistent path serves one replica", () => {
            assertProblems(
                withWorkloads({
                    workers: { w: { image: "x", replicas: 2, writablePaths: { "/data": { sizeMiB: 1, persistent: true } } } },
                }),
                [
                    "homolog: workers.w.writablePaths: a persistent writable path (ReadWriteOnce) serves one pod at a time; received replicas 2: set replicas to 1, or make the path an emptyDir (persistent: false)",
                ],
            );
        });

        it("a persistent path is not autoscaled", () => {
            assertProblems(
                {
                    ...valid(),
                    services: {
                        api: {
                            image: "x",
                            autoscaling: { minReplicas: 1, maxReplicas: 2 },
                            writablePaths: { "/data": { sizeMiB: 1, persistent: true } },
                        },
                    },
                },
                [
                    "homolog: services.api.writablePaths: a persistent writable path (ReadWriteOnce) serves one pod at a time, so it cannot be autoscaled: remove autoscaling, or make the path an emptyDir (persistent: false)",
                ],
            );
        });

        it("containers never run as root", () => {
            assertProblems({ ...valid(), services: { api: { image: "x", runAsUser: 0 } } }, [
                "homolog: services.api.runAsUser: must be >= 1; received 0",
            ]);
        });

        it("seed.command is not empty", () => {
            assertProblems({ ...valid(), services: { api: { image: "x", seed: { command: [] } } } }, [
                "homolog: services.api.seed.command: command must have at least one element; received []",
            ]);
        });
    });

    describe("application secrets (esteira:secrets), each rule with its exact message", () => {
        /** A secret map as the loader hands it over: each value a Pulumi secret. */
        const secretMap = (tree: Record<string, Record<string, unknown>>, plain = false) => ({
            secrets: {
                plain,
                values: Object.fromEntries(
                    Object.entries(tree).map(([name, keys]) => [
                        name,
                        Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, typeof v === "string" ? pulumi.secret(v) : v])),
                    ]),
                ),
            },
        });
        const reading = (secretEnv: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
            ...valid(),
            services: { api: { image: "x", secretEnv } },
            ...extra,
        });
        const parseWith = (
            values: Record<string, unknown>,
            maps: RawConfig["secretMaps"],
            secrets: RawConfig["secrets"] = { registryToken: token() },
        ) => parseConfig({ ...raw(values, secrets), secretMaps: maps });
        const assertSecretProblems = (values: Record<string, unknown>, maps: RawConfig["secretMaps"], expected: string[]) =>
            assert.throws(
                // The database URL only where the database is external, the one mode that reads it.
                () =>
                    parseWith(values, maps, {
                        registryToken: token(),
                        ...((values.database as { mode?: string } | undefined)?.mode === "external" ? { databaseUrl: token() } : {}),
                    }),
                (err: unknown) => {
                    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
                    assert.deepStrictEqual(err.problems, expected);
                    return true;
                },
            );

        it("hands over each Secret's values as Pulumi secrets, and puts the Secrets its services read in the namespace", async () => {
            const config = parseWith(
                reading({ AUTH_SECRET: { secretName: "api-secrets", key: "AUTH_SECRET" } }),
                secretMap({ "api-secrets": { AUTH_SECRET: "s3cret", OTLP_HEADERS: "h" } }),
            );
            const value = config.appSecrets["api-secrets"].AUTH_SECRET;
            assert.strictEqual(await promiseOf(value), "s3cret");
            assert.ok(await isSecretOutput(value), "the value stays a Pulumi secret");
            assert.deepStrictEqual(config.namespaces, [
                {
                    name: "esteira-homolog",
                    database: false,
                    secrets: ["api-secrets"],
                    adoptNamespace: undefined,
                    configKeys: { namespace: "namespace", adopt: "esteira:adoptNamespace" },
                },
            ]);
        });

        it("a Secret marked external is left to whoever creates it", () => {
            const config = parseWith(reading({ TOKEN: { secretName: "vault-synced", key: "token", external: true } }), undefined);
            assert.deepStrictEqual(config.namespaces[0].secrets, []);
        });

        itHolds(["secret-references"], "secretEnv names a Secret the stack creates, or one marked external", () => {
            assertSecretProblems(reading({ AUTH_SECRET: { secretName: "api-secrets", key: "AUTH_SECRET" } }), undefined, [
                "homolog: services.api.secretEnv.AUTH_SECRET: the Secret \"api-secrets\" is not created by this stack; set its values with `pulumi config set --secret --path 'esteira:secrets.api-secrets.AUTH_SECRET' <value> -s homolog`, or mark the reference external: true if something else creates it in the namespace",
            ]);
            // The pull secret is the stack's own, and a key with a dot is quoted in the suggested path.
            assertSecretProblems(reading({ DOCKER: { secretName: "registry-credentials", key: ".dockerconfigjson" } }), undefined, [
                "homolog: services.api.secretEnv.DOCKER: \"registry-credentials\" is the registry pull secret this stack creates for the kubelet (registry.pullSecretName); it holds only the registry's .dockerconfigjson, not meant for a container; to give a workload a registry token, set it in a Secret of its own with `pulumi config set --secret --path 'esteira:secrets.registry.DOCKER' <value> -s homolog` and read it with secretName: registry, key: DOCKER",
            ]);
            assertSecretProblems(reading({ CFG: { secretName: "app-config", key: "app.json" } }), undefined, [
                'homolog: services.api.secretEnv.CFG: the Secret "app-config" is not created by this stack; set its values with `pulumi config set --secret --path \'esteira:secrets.app-config["app.json"]\' <value> -s homolog`, or mark the reference external: true if something else creates it in the namespace',
            ]);
        });

        it("secretEnv names a key the Secret has", () => {
            assertSecretProblems(
                reading({ AUTH_SECRET: { secretName: "api-secrets", key: "AUTH" } }),
                secretMap({ "api-secrets": { AUTH_SECRET: "s", JWT_KEY: "k" } }),
                [
                    'homolog: services.api.secretEnv.AUTH_SECRET: the Secret "api-secrets" has no key "AUTH" (it has AUTH_SECRET, JWT_KEY); set it with `pulumi config set --secret --path \'esteira:secrets.api-secrets.AUTH\' <value> -s homolog`',
                ],
            );
        });

        it("the database Secret has its two keys", () => {
            assertSecretProblems(
                reading({ DIRECT: { secretName: "db-credentials", key: "URL" } }, { database: { mode: "external" } }),
                undefined,
                [
                    'homolog: services.api.secretEnv.DIRECT: the database Secret "db-credentials" has the keys DATABASE_URL and DATABASE_DIRECT_URL; received key "URL"',
                ],
            );
        });

        it("every declared Secret is read by a workload", () => {
            assertSecretProblems(valid(), secretMap({ "old-secrets": { TOKEN: "t" } }), [
                "homolog: secrets.old-secrets: no service, worker or job reads this Secret; reference it in a secretEnv, or remove it with `pulumi config rm --path 'esteira:secrets.old-secrets' -s homolog`",
            ]);
        });

        it("a declared Secret does not take the database Secret's or the pull secret's name", () => {
            assertSecretProblems(
                reading(
                    { A: { secretName: "db-credentials", key: "DATABASE_URL" } },
                    { database: { mode: "external" }, registry: { server: "ghcr.io", username: "bot", pullSecretName: "ghcr-secret" } },
                ),
                secretMap({ "db-credentials": { X: "x" }, "ghcr-secret": { Y: "y" } }),
                [
                    'homolog: secrets.db-credentials: "db-credentials" is already the database Secret (database.secretName); name this Secret otherwise',
                    'homolog: secrets.ghcr-secret: "ghcr-secret" is already the registry pull secret (registry.pullSecretName); name this Secret otherwise',
                ],
            );
        });

        it("values are set with --secret, never held in plain text", () => {
            assertSecretProblems(
                reading({ T: { secretName: "api-secrets", key: "TOKEN" } }),
                secretMap({ "api-secrets": { TOKEN: "plain" } }, true),
                [
                    "homolog: esteira:secrets: the stack file holds these values in plain text; remove them (`pulumi config rm esteira:secrets -s homolog`), rotate them, and set each with `pulumi config set --secret --path 'esteira:secrets.<secret>.<KEY>' <value> -s homolog`",
                ],
            );
        });

        it("a Secret's name is a DNS-1123 label and its keys are letters, digits, '-', '_' and '.'", () => {
            assertSecretProblems(valid(), secretMap({ API_Secrets: { TOKEN: "t" }, "api-secrets": { "BAD KEY": "t" } }), [
                `homolog: secrets.API_Secrets: a Secret name must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit; received "API_Secrets"`,
                `homolog: secrets.api-secrets.BAD KEY: a Secret key is letters, digits, '-', '_' and '.'; received "BAD KEY"`,
            ]);
        });

        it("each value is a string, named by its path and never shown", () => {
            assertSecretProblems(valid(), secretMap({ "api-secrets": { TOKEN: null } }), [
                "homolog: secrets.api-secrets.TOKEN: must be a secret string, set with `pulumi config set --secret --path`",
            ]);
        });
    });

    describe("build secrets (esteira:buildSecrets), each rule with its exact message", () => {
        const building = (build: Record<string, unknown>) => ({
            ...valid(),
            images: { repository: "ghcr.io/acme/shop" },
            services: { api: { image: { build: { context: "app", ...build } } } },
        });
        const maps = (values: Record<string, unknown>): RawConfig["secretMaps"] => ({ buildSecrets: { plain: false, values } });

        it("hands each build the secrets it lists, and only those, as Pulumi secrets", async () => {
            const config = parseConfig({
                ...raw({
                    ...building({ secrets: ["PIP_INDEX_TOKEN"] }),
                    workers: { embed: { image: { build: { context: "embed", secrets: ["HF_TOKEN"] } } } },
                }),
                secretMaps: maps({ PIP_INDEX_TOKEN: pulumi.secret("t0ken"), HF_TOKEN: pulumi.secret("hf") }),
            });
            const image = config.services.api.image;
            assert.ok("build" in image);
            assert.deepStrictEqual(Object.keys(image.build.secrets ?? {}), ["PIP_INDEX_TOKEN"]);
            assert.strictEqual(await promiseOf(image.build.secrets!.PIP_INDEX_TOKEN), "t0ken");
            assert.ok(await isSecretOutput(pulumi.output(image.build.secrets!.PIP_INDEX_TOKEN)));
        });

        it("a build argument named like a secret is refused, pointing to build secrets", () => {
            assert.deepStrictEqual(problemsOf(building({ args: { NPM_TOKEN: "x", PYTHON_VERSION: "3.12", api_key: "y" } })), [
                "homolog: services.api.image.build.args.NPM_TOKEN: looks like a secret, and a build argument is kept in plain text in the image's history and the stack's state; pass it as a BuildKit secret instead: set it with `pulumi config set --secret --path 'esteira:buildSecrets.NPM_TOKEN' <value> -s homolog`, list it in image.build.secrets, and read it in the Dockerfile with RUN --mount=type=secret,id=NPM_TOKEN",
                "homolog: services.api.image.build.args.api_key: looks like a secret, and a build argument is kept in plain text in the image's history and the stack's state; pass it as a BuildKit secret instead: set it with `pulumi config set --secret --path 'esteira:buildSecrets.api_key' <value> -s homolog`, list it in image.build.secrets, and read it in the Dockerfile with RUN --mount=type=secret,id=api_key",
            ]);
            for (const name of ["GITHUB_TOKEN", "DB_PASSWORD", "CLIENT_SECRET", "SSH_KEY"]) {
                assert.strictEqual(problemsOf(building({ args: { [name]: "x" } })).length, 1, `${name} looks like a secret`);
            }
        });

        it("a build reads only build secrets the stack sets", () => {
            assert.deepStrictEqual(problemsOf(building({ secrets: ["PIP_INDEX_TOKEN"] })), [
                "homolog: services.api.image.build.secrets: \"PIP_INDEX_TOKEN\" is not set; set it with `pulumi config set --secret --path 'esteira:buildSecrets.PIP_INDEX_TOKEN' <value> -s homolog`",
            ]);
        });

        itHolds(["build-secrets"], "every build secret the stack sets is read by a build", () => {
            assert.deepStrictEqual(problemsOf(valid(), maps({ OLD_TOKEN: pulumi.secret("t") })), [
                "homolog: buildSecrets.OLD_TOKEN: no image build reads it; list it in a build's image.build.secrets, or remove it with `pulumi config rm --path 'esteira:buildSecrets.OLD_TOKEN' -s homolog`",
            ]);
        });

        it("a build secret id is letters, digits, '-', '_' and '.'", () => {
            assert.deepStrictEqual(problemsOf(valid(), maps({ "PIP TOKEN": pulumi.secret("t") })), [
                `homolog: buildSecrets.PIP TOKEN: a build secret id is letters, digits, '-', '_' and '.'; received "PIP TOKEN"`,
            ]);
        });
    });

    describe("namespaces (esteira:namespaces), each rule with its exact message", () => {
        it("runs each workload in its namespace, each namespace holding the Secrets its workloads read", () => {
            const config = parseConfig({
                ...raw(
                    {
                        ...valid(),
                        database: { mode: "external" },
                        namespaces: { payments: {}, batch: { name: "batch-hml", adoptNamespace: true } },
                        services: {
                            api: { image: "x" },
                            billing: { image: "x", namespace: "payments", secretEnv: { KEY: { secretName: "stripe", key: "KEY" } } },
                        },
                        jobs: { report: { image: "x", schedule: "@daily", namespace: "batch", database: false } },
                    },
                    { registryToken: token(), databaseUrl: token() },
                ),
                secretMaps: { secrets: { plain: false, values: { stripe: { KEY: pulumi.secret("sk") } } } },
            });
            // Each namespace is adopted on its own key, and named by it in the message refusing an existing one.
            assert.deepStrictEqual(config.namespaces, [
                {
                    name: "esteira-homolog",
                    database: true,
                    secrets: [],
                    adoptNamespace: undefined,
                    configKeys: { namespace: "namespace", adopt: "esteira:adoptNamespace" },
                },
                {
                    key: "payments",
                    name: "esteira-homolog-payments",
                    database: true,
                    secrets: ["stripe"],
                    adoptNamespace: undefined,
                    configKeys: { namespace: "namespaces.payments", adopt: "namespaces.payments.adoptNamespace" },
                },
                {
                    key: "batch",
                    name: "batch-hml",
                    database: false,
                    secrets: [],
                    adoptNamespace: true,
                    configKeys: { namespace: "namespaces.batch", adopt: "namespaces.batch.adoptNamespace" },
                },
            ]);
            assert.strictEqual(config.services.billing.namespace, "payments");
        });

        itHolds(["workload-namespace-declared"], "a workload's namespace is declared", () => {
            assertProblems({ ...valid(), services: { api: { image: "x", namespace: "payments" } } }, [
                `homolog: services.api.namespace: "payments" is not a key of esteira:namespaces; declare it there (esteira:namespaces: {payments: {}}), or remove the key to run in the stack's namespace`,
            ]);
        });

        it("a namespace's default name is a valid name", () => {
            const key = "k".repeat(50);
            assertProblems({ ...valid(), namespaces: { [key]: {} } }, [
                `homolog: namespaces.${key}: the default "<project>-<environment>-<key>" gives "esteira-homolog-${key}", which is not a DNS-1123 label; set namespaces.${key}.name`,
            ]);
        });

        it("no two namespaces share a name", () => {
            assertProblems({ ...valid(), namespaces: { a: { name: "esteira-homolog" }, b: { name: "shared" }, c: { name: "shared" } } }, [
                `homolog: namespaces.a: its name "esteira-homolog" is already the stack's namespace's; give it a name of its own`,
                `homolog: namespaces.c: its name "shared" is already namespaces.b's; give it a name of its own`,
            ]);
        });

        it("a namespace Kubernetes creates itself is used only when adopted", () => {
            assertProblems({ ...valid(), namespaces: { system: { name: "kube-system" } } }, [
                `homolog: namespaces.system: "kube-system" is one Kubernetes creates itself: this stack would take it over and delete it, with everything in it, when it goes; name a namespace of the stack's own, or set namespaces.system.adoptNamespace: true to use it without ever deleting it`,
            ]);
            assert.deepStrictEqual(problemsOf({ ...valid(), namespaces: { system: { name: "kube-system", adoptNamespace: true } } }), []);
        });

        it("a namespace key is a DNS-1123 label", () => {
            assertProblems({ ...valid(), namespaces: { Payments: {} } }, [
                `homolog: namespaces.Payments: a namespace key must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit; received "Payments"`,
            ]);
        });
    });

    describe("HTTPS and public exposure, each rule with its exact message", () => {
        const doCluster = {
            mode: "digitalocean",
            region: "nyc1",
            version: "1.33.1-do.0",
            nodePool: { size: "s-2vcpu-4gb", minNodes: 1, maxNodes: 2 },
        };
        const secrets = () => ({ registryToken: token(), digitaloceanToken: token() });
        const exposing = (service: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
            ...valid(),
            cluster: doCluster,
            services: { api: { image: "x", ...service } },
            ...extra,
        });
        const tls = { hostname: "shop.example.com" };

        it("accepts HTTPS at a load balancer, and a production stack whose public services have it or a waiver", () => {
            const config = parseConfig(raw(exposing({ service: { type: "LoadBalancer", tls } }, { production: true }), secrets()));
            assert.deepStrictEqual(config.services.api.service?.tls, tls);
            parseConfig(
                raw(exposing({ service: { type: "LoadBalancer", tlsWaiver: "behind the office VPN" } }, { production: true }), secrets()),
            );
            parseConfig(raw(exposing({ service: { type: "LoadBalancer", tlsWaiver: "a demo, no data" } }), secrets()));
            // A cluster esteira does not run (kubeconfig) cannot get its TLS from esteira: a plain load balancer passes there.
            parseConfig(raw({ ...valid(), services: { api: { image: "x", service: { type: "LoadBalancer" } } } }, secrets()));
        });

        it("a public service on a DigitalOcean cluster of the stack's own serves HTTPS or carries a waiver, production or not", () => {
            assertProblems(
                exposing({ service: { type: "LoadBalancer" } }),
                [
                    'homolog: services.api.service: a stack on its own DigitalOcean cluster (cluster.mode "digitalocean") serves its public services over HTTPS: set service.tls: {hostname: <a name in a DigitalOcean DNS zone>}, or record why this one may not with service.tlsWaiver: "<reason>"',
                ],
                secrets(),
            );
        });

        it("a production stack's public service serves HTTPS or carries a waiver", () => {
            assertProblems(
                exposing({ service: { type: "LoadBalancer" } }, { production: true }),
                [
                    'homolog: services.api.service: a production stack (esteira:production: true) serves its public services over HTTPS: set service.tls: {hostname: <a name in a DigitalOcean DNS zone>}, or record why this one may not with service.tlsWaiver: "<reason>"',
                ],
                secrets(),
            );
        });

        itHolds(["service-exposure"], "TLS needs a load balancer", () => {
            assertProblems(
                exposing({ service: { tls } }),
                [
                    'homolog: services.api.service.tls: TLS is terminated at a DigitalOcean load balancer, so it needs service.type LoadBalancer; received "ClusterIP"',
                ],
                secrets(),
            );
        });

        it("TLS needs a DigitalOcean cluster", () => {
            assertProblems({ ...valid(), services: { api: { image: "x", service: { type: "LoadBalancer", tls } } } }, [
                'homolog: services.api.service.tls: the certificate, the DNS record and the load balancer are DigitalOcean\'s, so it needs cluster.mode "digitalocean"; received cluster.mode "kubeconfig"',
            ]);
        });

        it("the hostname is in its zone", () => {
            assertProblems(
                exposing({ service: { type: "LoadBalancer", tls: { hostname: "shop.example.org", zone: "example.com" } } }),
                [
                    'homolog: services.api.service.tls.hostname: "shop.example.org" is not in the zone "example.com"; set tls.zone to the DigitalOcean DNS zone it belongs to',
                ],
                secrets(),
            );
        });

        it("the hostname is a fully qualified name", () => {
            assertProblems(
                exposing({ service: { type: "LoadBalancer", tls: { hostname: "Shop" } } }),
                [
                    'homolog: services.api.service.tls.hostname: hostname must be a fully qualified domain name in lower case, such as shop.example.com; received "Shop"',
                ],
                secrets(),
            );
        });

        it("TLS owns its load balancer annotations", () => {
            assertProblems(
                exposing({
                    service: { type: "LoadBalancer", tls, annotations: { "service.beta.kubernetes.io/do-loadbalancer-tls-ports": "8443" } },
                }),
                [
                    'homolog: services.api.service.annotations: "service.beta.kubernetes.io/do-loadbalancer-tls-ports" is set by service.tls; remove it',
                ],
                secrets(),
            );
        });

        it("a waiver and TLS exclude each other", () => {
            assertProblems(
                exposing({ service: { type: "LoadBalancer", tls, tlsWaiver: "why" } }),
                [
                    "homolog: services.api.service.tlsWaiver: a waiver is for a public service without TLS, and this one has service.tls; remove one of them",
                ],
                secrets(),
            );
        });

        it("/metrics is never on a public service's serving port", () => {
            assertProblems(
                exposing({ service: { type: "LoadBalancer", tls }, metrics: {} }),
                [
                    "homolog: services.api.metrics.port: /metrics would be served to the internet through the load balancer, on the container port 8000; serve it on a port of its own (e.g. metrics: {port: 9100}), which the Service never exposes",
                ],
                secrets(),
            );
            parseConfig(raw(exposing({ service: { type: "LoadBalancer", tls }, metrics: { port: 9100 } }), secrets()));
            parseConfig(raw(exposing({ metrics: {} }), secrets()));
        });
    });

    describe("GitHub Actions secrets and variables of the stack, each rule with its exact message", () => {
        const withGithub = (github: Record<string, unknown>) => ({ ...valid(), github: { repository: "shop", ...github } });
        const githubSecrets = (values: Record<string, unknown>): RawConfig["secretMaps"] => ({ githubSecrets: { plain: false, values } });

        it("hands the environment its own secrets and variables, and the repository's to a component of their own", async () => {
            const config = parseConfig({
                ...raw(withGithub({ environmentVariables: { SMOKE_PATH: "/healthz" }, repositoryVariables: { REGISTRY: "ghcr.io" } })),
                secretMaps: githubSecrets({
                    environment: { SENTRY_AUTH_TOKEN: pulumi.secret("s") },
                    repository: { NPM_TOKEN: pulumi.secret("n") },
                }),
            });
            assert.deepStrictEqual(config.github?.environmentVariables, { SMOKE_PATH: "/healthz" });
            assert.ok(await isSecretOutput(pulumi.output(config.github?.secrets?.SENTRY_AUTH_TOKEN)));
            assert.strictEqual(config.githubRepository?.repository, "shop");
            assert.deepStrictEqual(config.githubRepository?.variables, { REGISTRY: "ghcr.io" });
            assert.strictEqual(await promiseOf(config.githubRepository?.secrets?.NPM_TOKEN), "n");
            assert.strictEqual(parseConfig(raw(withGithub({}))).githubRepository, undefined, "no repository values, no component");
        });

        it("Actions names are letters, digits and '_'", () => {
            assert.deepStrictEqual(problemsOf(withGithub({ repositoryVariables: { "BACKEND-URL": "x" } })), [
                `homolog: github.repositoryVariables.BACKEND-URL: an Actions variable name is letters, digits and '_', not starting with a digit; received "BACKEND-URL"`,
            ]);
        });

        it("Actions names do not start with GITHUB_", () => {
            assert.deepStrictEqual(problemsOf(withGithub({}), githubSecrets({ repository: { GITHUB_PAT: pulumi.secret("x") } })), [
                `homolog: githubSecrets.repository.GITHUB_PAT: an Actions secret name must not start with GITHUB_, which GitHub keeps; received "GITHUB_PAT"`,
            ]);
        });

        it("ESTEIRA_* environment variables are esteira's own", () => {
            assert.deepStrictEqual(problemsOf(withGithub({ environmentVariables: { ESTEIRA_STACK: "x" } })), [
                `homolog: github.environmentVariables: "ESTEIRA_STACK": ESTEIRA_* are the variables esteira writes itself; choose another name`,
            ]);
        });

        it("KUBECONFIG and REGISTRY_TOKEN environment secrets are esteira's own", () => {
            assert.deepStrictEqual(problemsOf(withGithub({}), githubSecrets({ environment: { KUBECONFIG: pulumi.secret("x") } })), [
                `homolog: githubSecrets.environment.KUBECONFIG: KUBECONFIG and REGISTRY_TOKEN are the environment secrets esteira writes itself (github.actionsSecrets); choose another name; received "KUBECONFIG"`,
            ]);
        });

        itHolds(["github-secrets-need-github"], "Actions secrets need the stack's GitHub repository", () => {
            assert.deepStrictEqual(problemsOf(valid(), githubSecrets({ repository: { NPM_TOKEN: pulumi.secret("x") } })), [
                "homolog: esteira:githubSecrets: needs esteira:github (its repository is where they are written); set esteira:github.repository",
            ]);
        });
    });

    describe("monitoring (esteira:monitoring), each rule with its exact message", () => {
        const doCluster = {
            mode: "digitalocean",
            region: "nyc1",
            version: "1.33.1-do.0",
            nodePool: { size: "s-2vcpu-4gb", minNodes: 1, maxNodes: 2 },
        };
        const monitored = (monitoring: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
            ...valid(),
            cluster: doCluster,
            monitoring,
            ...extra,
        });
        const doSecrets = (extra: Partial<RawConfig["secrets"]> = {}) => ({ registryToken: token(), digitaloceanToken: token(), ...extra });

        it("checks each public service on its readiness path, and posts to Slack with the webhook secret", async () => {
            const config = parseConfig(
                raw(
                    monitored(
                        { slackChannel: "#alerts" },
                        {
                            services: {
                                api: {
                                    image: "x",
                                    service: { type: "LoadBalancer", tlsWaiver: "a demo behind the office VPN" },
                                    probes: { readiness: { path: "/healthcheck" } },
                                },
                                internal: { image: "x" },
                            },
                        },
                    ),
                    doSecrets({ slackWebhookUrl: pulumi.secret("https://hooks.slack.com/services/T/B/x") }),
                ),
            );
            assert.deepStrictEqual(config.monitoring?.checks, { api: { path: "/healthcheck", https: false } });
            assert.strictEqual(config.monitoring?.slack?.channel, "#alerts");
            assert.ok(await isSecretOutput(pulumi.output(config.monitoring?.slack?.url)));
        });

        it("alerts go somewhere", () => {
            assertProblems(
                monitored({ thresholds: { cpuPercent: 90 } }),
                ["homolog: monitoring: name where alerts go: emails, slackChannel, or both"],
                doSecrets(),
            );
        });

        it("emails are email addresses", () => {
            assertProblems(
                monitored({ emails: ["oncall"] }),
                ['homolog: monitoring.emails.0: must be an email address; received "oncall"'],
                doSecrets(),
            );
        });

        itHolds(["slack-webhook-required"], "a Slack channel needs its webhook URL, set as a secret", () => {
            assertProblems(
                monitored({ slackChannel: "#alerts" }),
                [
                    "homolog: esteira:slackWebhookUrl: is required when monitoring.slackChannel is set; set it with `pulumi config set --secret esteira:slackWebhookUrl 'https://hooks.slack.com/services/…' -s homolog`",
                ],
                doSecrets(),
            );
        });

        it("the webhook URL alone, without a Slack channel, serves the notifications (scripts/notify.sh)", () => {
            const config = parseConfig(raw(monitored({ emails: ["oncall@example.com"] }), doSecrets({ slackWebhookUrl: token() })));
            assert.strictEqual(config.monitoring?.slack, undefined, "no channel: DigitalOcean's alerts go to the emails only");
        });

        it("the old key esteira:alertSlackWebhookUrl is named with the key that replaced it and how to move it", () => {
            assertProblems({ ...valid(), alertSlackWebhookUrl: null }, [
                "homolog: esteira:alertSlackWebhookUrl: was renamed esteira:slackWebhookUrl, which the delivery notifications post to as well as the alerts; move it with `pulumi config get esteira:alertSlackWebhookUrl -s homolog | pulumi config set --secret esteira:slackWebhookUrl -s homolog && pulumi config rm esteira:alertSlackWebhookUrl -s homolog`",
            ]);
        });

        itHolds(["watch-error-rate-needs-metrics"], "the watch's error rate reads a service's metrics endpoint", () => {
            assertProblems({ ...valid(), watch: { windowSeconds: 60, errorRate: { thresholdPercent: 5 } } }, [
                "homolog: watch.errorRate: reads each service's metrics endpoint, and no service sets `metrics`; set services.<name>.metrics (e.g. `metrics: {}` for /metrics on the service's port), or remove watch.errorRate",
            ]);
        });

        it("the watch's first look comes within its window, and its error pattern is a regular expression", () => {
            const metered = { ...valid(), services: { api: { image: "ghcr.io/acme/api:1", metrics: {} } } };
            assertProblems({ ...metered, watch: { windowSeconds: 10, intervalSeconds: 30 } }, [
                "homolog: watch.intervalSeconds: must not exceed windowSeconds: the window would end before the first look",
            ]);
            assertProblems({ ...metered, watch: { windowSeconds: 60, errorRate: { thresholdPercent: 5, errorPattern: "^(5" } } }, [
                'homolog: watch.errorRate.errorPattern: must be a regular expression, e.g. ^5; received "^(5"',
            ]);
            const config = parseConfig(raw({ ...metered, watch: { windowSeconds: 60, errorRate: { thresholdPercent: 5 } } }));
            assert.deepStrictEqual(config.watch, { windowSeconds: 60, errorRate: { thresholdPercent: 5 } });
        });

        itHolds(["monitoring-needs-digitalocean"], "monitoring is DigitalOcean's", () => {
            assertProblems({ ...valid(), monitoring: { emails: ["oncall@example.com"] } }, [
                'homolog: monitoring: DigitalOcean checks and alerts need a DigitalOcean account, so cluster.mode "digitalocean"; received cluster.mode "kubeconfig"',
            ]);
        });

        it("the alert window is 5, 10, 30 or 60 minutes", () => {
            assertProblems(
                monitored({ emails: ["a@example.com"], windowMinutes: 15 }),
                ["homolog: monitoring.windowMinutes: must be one of 5, 10, 30, 60; received 15"],
                doSecrets(),
            );
        });

        it("uptime checks run from DigitalOcean's regions", () => {
            assertProblems(
                monitored({ emails: ["a@example.com"], uptime: { regions: ["us-east"] } }),
                ['homolog: monitoring.uptime.regions.0: must be one of "us_east", "us_west", "eu_west", "se_asia"; received "us-east"'],
                doSecrets(),
            );
        });
    });

    describe("secret rules, each with its exact message", () => {
        it("a plain key holding a value set with --secret is refused, and what it holds is never shown", () => {
            const values = valid();
            // `pulumi config set --secret --path esteira:services.api.env.API_KEY …` marks all of esteira:services.
            values.services.api.env = { API_KEY: "sk-live-0123456789" };
            values.services.api.port = "sk-live-0123456789";
            assert.throws(
                () => parseConfig({ ...raw(values), secretKeys: [...ENCRYPTED, "esteira:services"] }),
                (err: ConfigError) => {
                    assert.deepStrictEqual(err.problems, [
                        "homolog: services: holds a value set with --secret, but esteira:services is plain configuration that the program would write in plain text into resources, the state and the preview; remove it (the `secure:` entry under esteira:services in Pulumi.homolog.yaml, or `pulumi config rm --path 'esteira:services.<path>' -s homolog`) and give pods secrets through secretEnv (a Kubernetes Secret) or a secret the stack declares",
                    ]);
                    assert.ok(!err.message.includes("sk-live"), "the message never shows the secret");
                    return true;
                },
            );
        });

        it("every secret key set in plain text is refused, naming the key and never the value", () => {
            const plain = pulumi.output("plain-value");
            assert.throws(
                () =>
                    parseConfig({
                        ...raw(
                            { ...valid(), database: { mode: "external" } },
                            {
                                registryToken: token(),
                                registryPushToken: plain,
                                kubeconfig: plain,
                                databaseUrl: plain,
                                digitaloceanToken: plain,
                            },
                        ),
                        secretKeys: ["esteira:registryToken"],
                    }),
                (err: ConfigError) => {
                    assert.deepStrictEqual(
                        err.problems,
                        ["esteira:registryPushToken", "esteira:kubeconfig", "esteira:databaseUrl", "digitalocean:token"].map(
                            (key) =>
                                `homolog: ${key}: is set in plain text, so the stack file stores it unencrypted; set it again with \`pulumi config set --secret ${key} <value> -s homolog\``,
                        ),
                    );
                    assert.ok(!err.message.includes("plain-value"));
                    return true;
                },
            );
        });
    });

    describe("network policy rules, each with its exact message", () => {
        it("hands the scraper's namespace to every service and keeps the further egress", () => {
            const egress = [{ cidr: "203.0.113.0/24", ports: [443] }];
            const config = parseConfig(raw({ ...valid(), networkPolicy: { metricsNamespace: "kube-prometheus-stack", egress } }));
            assert.strictEqual(config.services.api.metricsNamespace, "kube-prometheus-stack");
            assert.deepStrictEqual(config.networkPolicy?.egress, egress);
        });

        it("networkPolicy.metricsNamespace is a DNS-1123 label", () => {
            assertProblems({ ...valid(), networkPolicy: { metricsNamespace: "Monitoring" } }, [
                `homolog: networkPolicy.metricsNamespace: metricsNamespace must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit; received "Monitoring"`,
            ]);
        });

        it("networkPolicy.egress names an IPv4 range, not a host name", () => {
            assertProblems({ ...valid(), networkPolicy: { egress: [{ cidr: "api.example.com", ports: [443] }] } }, [
                `homolog: networkPolicy.egress.0.cidr: cidr must be an IPv4 range such as 10.10.0.0/16; received "api.example.com"`,
            ]);
        });

        it("networkPolicy.egress lists at least one port", () => {
            assertProblems({ ...valid(), networkPolicy: { egress: [{ cidr: "10.0.0.0/8", ports: [] }] } }, [
                "homolog: networkPolicy.egress.0.ports: ports must list at least one port; received []",
            ]);
        });

        it("networkPolicy.egress ports are port numbers", () => {
            assertProblems({ ...valid(), networkPolicy: { egress: [{ cidr: "10.0.0.0/8", ports: [0] }] } }, [
                "homolog: networkPolicy.egress.0.ports.0: must be >= 1; received 0",
            ]);
        });

        it("an external database's cidr is an IPv4 range", () => {
            assertProblems(
                { ...valid(), database: { mode: "external", cidr: "10.0.0.1" } },
                [`homolog: database.cidr: cidr must be an IPv4 range such as 10.10.0.0/16; received "10.0.0.1"`],
                { registryToken: token(), databaseUrl: pulumi.secret("postgresql://u:p@db/app") },
            );
        });
    });

    describe("DigitalOcean rules, each with its exact message", () => {
        const doToken = () => ({ registryToken: token(), digitaloceanToken: token() });
        const doCluster = () => ({
            mode: "digitalocean",
            region: "nyc1",
            version: "1.33.1-do.0",
            nodePool: { size: "s-2vcpu-4gb", minNodes: 1, maxNodes: 3 },
        });

        it("accepts a DigitalOcean cluster and database and attaches the token", async () => {
            const config = parseConfig(
                raw({ ...valid(), cluster: doCluster(), database: { mode: "digitalocean", region: "nyc1", nodeCount: 2 } }, doToken()),
            );
            assert.strictEqual(config.cluster.mode, "digitalocean");
            assert.ok(config.cluster.mode === "digitalocean" && (await isSecretOutput(pulumi.output(config.cluster.apiToken))));
            assert.strictEqual(config.database?.mode, "digitalocean");
        });

        it("cluster.nodePool.minNodes <= maxNodes", () => {
            assertProblems(
                { ...valid(), cluster: { ...doCluster(), nodePool: { size: "s-2vcpu-4gb", minNodes: 3, maxNodes: 2 } } },
                ["homolog: cluster.nodePool: minNodes (3) must be <= maxNodes (2)"],
                doToken(),
            );
        });

        it("cluster.region is required in digitalocean mode", () => {
            const { region: _, ...cluster } = doCluster();
            assertProblems({ ...valid(), cluster }, ["homolog: cluster.region: is required (expected string)"], doToken());
        });

        it("cluster.version is pinned in digitalocean mode", () => {
            const { version: _, ...cluster } = doCluster();
            assertProblems({ ...valid(), cluster }, ["homolog: cluster.version: is required (expected string)"], doToken());
        });

        it("cluster.maintenance.startTime is HH:MM", () => {
            assertProblems(
                { ...valid(), cluster: { ...doCluster(), maintenance: { day: "sunday", startTime: "4am" } } },
                ['homolog: cluster.maintenance.startTime: startTime must be HH:MM (24-hour, UTC); received "4am"'],
                doToken(),
            );
        });

        it("cluster.maintenance.day is a weekday or any", () => {
            assertProblems(
                { ...valid(), cluster: { ...doCluster(), maintenance: { day: "sun" } } },
                [
                    'homolog: cluster.maintenance.day: must be one of "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "any"; received "sun"',
                ],
                doToken(),
            );
        });

        itHolds(
            ["digitalocean-token-from-environment-only"],
            "cluster.tokenFromEnvironment takes no token from the config, and refuses one there",
            () => {
                const config = parseConfig(raw({ ...valid(), cluster: { ...doCluster(), tokenFromEnvironment: true } }));
                assert.ok(
                    config.cluster.mode === "digitalocean" && config.cluster.apiToken === undefined && config.cluster.tokenFromEnvironment,
                );
                assertProblems(
                    { ...valid(), cluster: { ...doCluster(), tokenFromEnvironment: true } },
                    [
                        "homolog: digitalocean:token: must not be set when cluster.tokenFromEnvironment is true: the stack's config, which everyone holding its passphrase decrypts, would hold the token; remove it with `pulumi config rm digitalocean:token -s homolog` and give the deploying job DIGITALOCEAN_TOKEN",
                    ],
                    doToken(),
                );
            },
        );

        itHolds(["digitalocean-token-required"], "digitalocean:token is required for a DigitalOcean cluster", () => {
            assertProblems({ ...valid(), cluster: doCluster() }, [
                "homolog: digitalocean:token: is required when cluster.mode is digitalocean (the provider and the kubeconfig use it); set it with `pulumi config set --secret digitalocean:token <token> -s homolog`",
            ]);
        });

        it("database.mode must be known", () => {
            assertProblems({ ...valid(), database: { mode: "rds" } }, [
                'homolog: database.mode: mode must be one of: digitalocean, external, server, namespace; received "rds"',
            ]);
        });

        it("database.mode namespace needs its image, a valid reference", () => {
            assertProblems({ ...valid(), database: { mode: "namespace" } }, ["homolog: database.image: is required (expected string)"]);
            assertProblems({ ...valid(), database: { mode: "namespace", image: "Postgres 16" } }, [
                `homolog: database.image: ${imageReferenceProblem("Postgres 16")}`,
            ]);
            assertProblems({ ...valid(), database: { mode: "namespace", image: "postgres:16", dataMiB: 10 } }, [
                "homolog: database.dataMiB: must be >= 64; received 10",
            ]);
        });

        it("database.mode namespace passes through as data: no URL, no admin, no server", () => {
            const config = parseConfig(raw({ ...valid(), database: { mode: "namespace", image: "postgres:16" } }));
            assert.deepStrictEqual(config.database, { mode: "namespace", image: "postgres:16" });
        });

        itHolds(
            ["database-region-is-cluster-region"],
            "database.region is the cluster's: it defaults to it, and no other is accepted",
            () => {
                const config = parseConfig(raw({ ...valid(), cluster: doCluster(), database: { mode: "digitalocean" } }, doToken()));
                assert.ok(
                    config.database?.mode === "digitalocean" && config.database.region === undefined,
                    "the component takes the cluster's",
                );
                assertProblems(
                    { ...valid(), cluster: doCluster(), database: { mode: "digitalocean", region: "sfo3" } },
                    [
                        'homolog: database.region: must be the cluster\'s region ("nyc1"), the one region its private network reaches; received "sfo3" (leave it out: it defaults to the cluster\'s)',
                    ],
                    doToken(),
                );
            },
        );

        it("database.nodeCount is 1 to 3", () => {
            assertProblems(
                { ...valid(), cluster: doCluster(), database: { mode: "digitalocean", region: "nyc1", nodeCount: 4 } },
                ["homolog: database.nodeCount: must be <= 3; received 4"],
                doToken(),
            );
        });

        it("database.pool.mode is transaction, session or statement", () => {
            assertProblems(
                { ...valid(), cluster: doCluster(), database: { mode: "digitalocean", region: "nyc1", pool: { size: 10, mode: "tx" } } },
                ['homolog: database.pool.mode: must be one of "transaction", "session", "statement"; received "tx"'],
                doToken(),
            );
        });

        it("accepts a restore from another cluster's backup at a point in time", () => {
            const config = parseConfig(
                raw(
                    {
                        ...valid(),
                        cluster: doCluster(),
                        database: {
                            mode: "digitalocean",
                            region: "nyc1",
                            restoreFrom: { cluster: "esteira-prod-db", at: "2026-03-01T02:30:00Z" },
                        },
                    },
                    doToken(),
                ),
            );
            assert.ok(config.database?.mode === "digitalocean" && config.database.restoreFrom?.cluster === "esteira-prod-db");
        });

        it("database.restoreFrom.at is a UTC time", () => {
            assertProblems(
                {
                    ...valid(),
                    cluster: doCluster(),
                    database: { mode: "digitalocean", region: "nyc1", restoreFrom: { cluster: "esteira-prod-db", at: "yesterday" } },
                },
                [
                    `homolog: database.restoreFrom.at: at must be a UTC time such as 2026-03-01T02:30:00Z, within the source's last 7 days; received "yesterday"`,
                ],
                doToken(),
            );
        });

        itHolds(["restore-from-another-cluster"], "database.restoreFrom names another cluster", () => {
            assertProblems(
                {
                    ...valid(),
                    cluster: doCluster(),
                    database: { mode: "digitalocean", region: "nyc1", restoreFrom: { cluster: "esteira-homolog-db" } },
                },
                [
                    `homolog: database.restoreFrom.cluster: "esteira-homolog-db" is this stack's own database cluster; name the cluster whose backup to restore (e.g. esteira-prod-db)`,
                ],
                doToken(),
            );
        });

        itHolds(
            ["digitalocean-database-needs-digitalocean-cluster"],
            "a DigitalOcean database needs a DigitalOcean cluster of this stack's, for its VPC and firewall",
            () => {
                const message = (mode: string) =>
                    `homolog: database.mode: "digitalocean" joins the VPC of the DOKS cluster this stack creates and admits only that cluster through its firewall, so it needs cluster.mode "digitalocean"; received cluster.mode "${mode}" (use database.mode "external" with esteira:databaseUrl, "server" with esteira:databaseAdminUrl, or "namespace")`;
                assertProblems({ ...valid(), database: { mode: "digitalocean", region: "nyc1" } }, [message("kubeconfig")]);
            },
        );

        itHolds(["database-url-required"], "esteira:databaseUrl is required for an external database", () => {
            assertProblems({ ...valid(), database: { mode: "external" } }, [
                "homolog: esteira:databaseUrl: is required when database.mode is external; set it with `pulumi config set --secret esteira:databaseUrl 'postgresql://user:password@host:5432/db?sslmode=require' -s homolog`",
            ]);
        });

        itHolds(["database-admin-url-required"], "a server-mode database needs an admin connection of the stack's own, the secret", () => {
            assertProblems({ ...valid(), database: { mode: "server" } }, [
                "homolog: esteira:databaseAdminUrl: is required when database.mode is server (its database and role are made through it); set it with `pulumi config set --secret esteira:databaseAdminUrl 'postgresql://admin:password@host:5432/postgres?sslmode=require' -s homolog`",
            ]);
        });

        it("a server-mode database and its role are named after the environment unless given", () => {
            const config = parseConfig(
                raw({ ...valid(), database: { mode: "server" } }, { registryToken: token(), databaseAdminUrl: token() }),
            );
            assert.ok(config.database?.mode === "server");
            assert.strictEqual(config.database.databaseName, "esteira-homolog");
            assert.strictEqual(config.database.user, "esteira-homolog");
            assert.ok(config.database.adminUrl, "the stack's own admin connection, from its secret");
        });

        it("DATABASE_URL is not also set by hand on a service that gets the database", () => {
            const values = valid();
            values.services.api.env = { DATABASE_URL: "postgres://old-db" };
            assertProblems(
                { ...values, database: { mode: "external" } },
                [
                    "homolog: services.api: DATABASE_URL comes from the db-credentials secret when the stack has a database; remove it from env/secretEnv, or set database: false on the service",
                ],
                { registryToken: token(), databaseUrl: token() },
            );
        });
    });

    describe("image rules, each with its exact message", () => {
        const withImage = (image: unknown, extra: Record<string, unknown> = {}) => ({
            ...valid(),
            images: { repository: "ghcr.io/acme/shop" },
            services: { api: { image } },
            ...extra,
        });

        it("accepts a reference, a build or a promotion", () => {
            assert.deepStrictEqual(parseConfig(raw(withImage("ghcr.io/acme/api:1"))).services.api.image, { ref: "ghcr.io/acme/api:1" });
            const built = parseConfig(raw(withImage({ build: { context: "app" } }))).services.api.image;
            assert.ok("build" in built);
            assert.strictEqual(built.build.context, "app");
            assert.strictEqual(
                built.build.repository,
                "ghcr.io/acme/shop/api",
                "the image's own repository: <images.repository>/<service>",
            );
            assert.deepStrictEqual(built.build.tags, ["homolog"], "tagged with the stack (and the commit, when known)");
            assert.deepStrictEqual(parseConfig(raw(withImage({ promoteFrom: "staging" }))).services.api.image, {
                promoteFrom: "staging",
                service: "api",
            });
        });

        it("verifiedIn takes the stage's verified image of the commit being deployed from the service's repository", async () => {
            const image = parseConfig({ ...raw(withImage({ verifiedIn: "dev" })), commitSha: "0123456789abcdef" }).services.api.image;
            assert.ok("verifiedIn" in image);
            assert.deepStrictEqual(
                { ...image, registry: undefined },
                {
                    verifiedIn: "dev",
                    service: "api",
                    repository: "ghcr.io/acme/shop/api",
                    commit: "0123456789abcdef",
                    pin: undefined,
                    registry: undefined,
                },
            );
            assert.ok(await isSecretOutput(pulumi.output(image.registry.token)), "the pull token stays secret");
        });

        it("an image is built or promoted, not both", () => {
            assertProblems(withImage({ build: { context: "app" }, promoteFrom: "homolog" }), [
                "homolog: services.api.image: set exactly one of ref, build, promoteFrom or verifiedIn; received build and promoteFrom",
            ]);
            assertProblems(withImage({ verifiedIn: "dev", promoteFrom: "homolog" }), [
                "homolog: services.api.image: set exactly one of ref, build, promoteFrom or verifiedIn; received promoteFrom and verifiedIn",
            ]);
        });

        it("an image names a source", () => {
            assertProblems(withImage({}), [
                "homolog: services.api.image: set exactly one of ref, build, promoteFrom or verifiedIn; received none",
            ]);
        });

        it("verifiedIn is a stack name that can be part of a tag", () => {
            assertProblems(withImage({ verifiedIn: "Dev" }), [
                `homolog: services.api.image.verifiedIn: verifiedIn must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit; received "Dev"`,
            ]);
        });

        itHolds(["verified-needs-images"], "verifiedIn needs esteira:images.repository", () => {
            assert.throws(
                () => parseConfig({ ...raw({ ...withImage({ verifiedIn: "dev" }), images: undefined }), commitSha: "0123456789abcdef" }),
                (err: ConfigError) => {
                    assert.deepStrictEqual(err.problems, [
                        "homolog: services.api.image.verifiedIn: needs esteira:images.repository (e.g. ghcr.io/<owner>/<repo>) to find the verified image in",
                    ]);
                    return true;
                },
            );
        });

        itHolds(["verified-needs-commit"], "verifiedIn needs the commit being deployed, unless the service is pinned", () => {
            assertProblems(withImage({ verifiedIn: "dev" }), [
                "homolog: services.api.image.verifiedIn: needs the commit being deployed (ESTEIRA_COMMIT or GITHUB_SHA, else a git checkout) to find the image verified for it",
            ]);
            const pin = `ghcr.io/acme/shop/api@sha256:${"a".repeat(64)}`;
            const image = parseConfig(raw(withImage({ verifiedIn: "dev" }, { pins: { api: pin } }))).services.api.image;
            assert.ok("verifiedIn" in image && image.pin === pin);
        });

        it("a pin replaces a reference, a build or a promotion from a stack", () => {
            const pin = `ghcr.io/acme/shop/api@sha256:${"b".repeat(64)}`;
            for (const source of ["ghcr.io/acme/api:1", { build: { context: "app" } }, { promoteFrom: "dev" }]) {
                assert.deepStrictEqual(parseConfig(raw(withImage(source, { pins: { api: pin } }))).services.api.image, { ref: pin });
            }
        });

        it("a pin is pinned by digest", () => {
            assertProblems(withImage("ghcr.io/acme/api:1", { pins: { api: "ghcr.io/acme/shop/api:latest" } }), [
                'homolog: pins.api: must be pinned by digest: <repository>@sha256:<64 hex digits>; received "ghcr.io/acme/shop/api:latest"',
            ]);
        });

        itHolds(["pins-name-workloads"], "a pin names a service, worker or job of the stack", () => {
            assertProblems(withImage("ghcr.io/acme/api:1", { pins: { web: `ghcr.io/acme/shop/web@sha256:${"c".repeat(64)}` } }), [
                'homolog: pins.web: no service, worker or job "web" in this stack; pin only workloads the stack runs',
            ]);
        });

        it("a pin replaces a worker's or a job's image too", () => {
            const pin = `ghcr.io/acme/shop/mailer@sha256:${"d".repeat(64)}`;
            const config = parseConfig(
                raw(
                    withImage("ghcr.io/acme/api:1", {
                        workers: { mailer: { image: { verifiedIn: "dev" } } },
                        jobs: { report: { image: { build: { context: "app" } }, schedule: "0 3 * * *" } },
                        pins: { mailer: pin, report: pin },
                    }),
                ),
            );
            const mailer = config.workers.mailer.image;
            assert.ok("verifiedIn" in mailer, "a pinned promotion keeps its lookup, which checks the pin");
            assert.strictEqual(mailer.pin, pin);
            assert.strictEqual(mailer.repository, "ghcr.io/acme/shop/mailer");
            assert.deepStrictEqual(config.jobs.report.image, { ref: pin });
        });

        it("images.cacheFrom names repositories, read per service", () => {
            const image = parseConfig(
                raw(
                    withImage(
                        { build: { context: "app" } },
                        { images: { repository: "ghcr.io/acme/shop/pr", cacheFrom: ["ghcr.io/acme/shop"] } },
                    ),
                ),
            ).services.api.image;
            assert.ok("build" in image);
            assert.strictEqual(image.build.repository, "ghcr.io/acme/shop/pr/api");
            assert.deepStrictEqual(image.build.cacheFrom, ["ghcr.io/acme/shop/api"]);
            assertProblems(
                withImage({ build: { context: "app" } }, { images: { repository: "ghcr.io/acme/shop", cacheFrom: ["GHCR.io/x"] } }),
                [
                    'homolog: images.cacheFrom.0: repository must be <registry>/<path> in lower case, e.g. ghcr.io/acme/shop; received "GHCR.io/x"',
                ],
            );
        });

        it("build needs a context", () => {
            assertProblems(withImage({ build: { dockerfile: "Dockerfile" } }), [
                "homolog: services.api.image.build.context: is required (expected string)",
            ]);
        });

        it("promoteFrom is a stack name or a full reference", () => {
            assertProblems(withImage({ promoteFrom: "homolog stack" }), [
                `homolog: services.api.image.promoteFrom: promoteFrom must be a stack name or <organization>/<project>/<stack>; received "homolog stack"`,
            ]);
        });

        it("a build needs esteira:images.repository", () => {
            assertProblems({ ...valid(), services: { api: { image: { build: { context: "app" } } } } }, [
                "homolog: services.api.image.build: needs esteira:images.repository (e.g. ghcr.io/<owner>/<repo>) to push the image to",
            ]);
        });

        it("images.repository is <registry>/<path> in lower case", () => {
            assertProblems(withImage("x", { images: { repository: "GHCR.io/Acme" } }), [
                `homolog: images.repository: repository must be <registry>/<path> in lower case, e.g. ghcr.io/acme/shop; received "GHCR.io/Acme"`,
            ]);
        });

        it("images.platforms are linux/amd64 or linux/arm64", () => {
            assertProblems(withImage("x", { images: { repository: "ghcr.io/acme/shop", platforms: ["windows/amd64"] } }), [
                'homolog: images.platforms.0: must be one of "linux/amd64", "linux/arm64"; received "windows/amd64"',
            ]);
        });

        it("migrate.command is not empty", () => {
            assertProblems({ ...valid(), services: { api: { image: "x", migrate: { command: [] } } } }, [
                "homolog: services.api.migrate.command: command must have at least one element; received []",
            ]);
        });

        it("a separate push token is used when set, else the pull token", async () => {
            const pushToken = pulumi.secret("push");
            const separate = parseConfig(raw(valid(), { registryToken: token(), registryPushToken: pushToken }));
            assert.strictEqual(await promiseOf(separate.registry?.pushToken), "push");
            const shared = parseConfig(raw(valid()));
            assert.strictEqual(await promiseOf(shared.registry?.pushToken), "t0ken");
        });
    });

    describe("GitHub and ephemeral-stack rules, each with its exact message", () => {
        const reviewers = (users: number, teams: number) => ({
            users: Array.from({ length: users }, (_, i) => `user${i}`),
            teams: Array.from({ length: teams }, (_, i) => `team${i}`),
        });

        it("at most 6 reviewers", () => {
            assertProblems({ ...valid(), github: { repository: "shop", reviewers: reviewers(4, 3) } }, [
                "homolog: github.reviewers: at most 6 reviewers (users and teams together), as GitHub allows; received 7",
            ]);
        });

        it("accepts 6 reviewers", () => {
            assert.strictEqual(
                parseConfig(raw({ ...valid(), github: { repository: "shop", reviewers: reviewers(3, 3) } })).github?.repository,
                "shop",
            );
        });

        it("github.repository is the name alone", () => {
            assertProblems({ ...valid(), github: { repository: "acme/shop" } }, [
                `homolog: github.repository: repository is the repository's name alone; its owner is github:owner; received "acme/shop"`,
            ]);
        });

        it("github.deployFrom names at least one pattern", () => {
            assertProblems({ ...valid(), github: { repository: "shop", deployFrom: { tags: [] } } }, [
                "homolog: github.deployFrom: name at least one branch or tag pattern, or use all / protected",
            ]);
        });

        it("the stack name must make a valid namespace", () => {
            assert.throws(
                () => parseConfig({ ...raw(valid()), stack: "PR_12" }),
                (err: ConfigError) => {
                    assert.deepStrictEqual(err.problems, [
                        `PR_12: environment: the stack name "PR_12" is not a DNS-1123 label, so it cannot name the namespace; name the stack like pr-123 (lower case, digits, '-') or set esteira:environment`,
                    ]);
                    return true;
                },
            );
        });

        it("a base stack (esteira:tenants) needs no service, no registry and no registry token", () => {
            const config = parseConfig(raw({ protect: false, tenants: {} }, {}));
            assert.deepStrictEqual(config.services, {});
            assert.strictEqual(config.registry, undefined);
            assert.deepStrictEqual(config.tenants, {});
        });

        it("a base stack with services still needs their registry", () => {
            assertProblems({ protect: false, tenants: {}, services: { api: { image: "x" } } }, [
                "homolog: registry: is required (expected object)",
            ]);
        });

        it("tenants.serviceAccountName is a DNS-1123 label", () => {
            assertProblems({ ...valid(), tenants: { serviceAccountName: "PR deployer" } }, [
                `homolog: tenants.serviceAccountName: serviceAccountName must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit; received "PR deployer"`,
            ]);
        });

        it("an environment another stack manages (github.managedBy) takes its protection there, not here", () => {
            parseConfig(raw({ ...valid(), github: { repository: "shop", deployFrom: { branches: ["main"] }, managedBy: "prod" } }));
            assertProblems({ ...valid(), github: { repository: "shop", managedBy: "prod", reviewers: { teams: ["qa"] } } }, [
                'homolog: github.reviewers: the environment is managed by stack "prod" (managedBy): set reviewers in its esteira:repository.environments, not here',
            ]);
        });

        itHolds(["repository-needs-github"], "repository needs esteira:github", () => {
            assertProblems({ ...valid(), repository: { releaseManagers: ["release-managers"] } }, [
                "homolog: repository: needs esteira:github.repository, the repository these settings apply to",
            ]);
        });

        it("repository names its release managers' teams, its checks, and at most 10 approvals", () => {
            const github = { repository: "shop" };
            assertProblems({ ...valid(), github, repository: { releaseManagers: [] } }, [
                "homolog: repository.releaseManagers: name at least one team; received []",
            ]);
            assertProblems({ ...valid(), github, repository: { releaseManagers: ["rm"], requiredChecks: [], requiredApprovals: 11 } }, [
                "homolog: repository.requiredChecks: name at least one check; received []",
                "homolog: repository.requiredApprovals: must be <= 10; received 11",
            ]);
        });

        it("repository.environments take the protection keys of esteira:github and their rules", () => {
            const github = { repository: "shop" };
            const config = parseConfig(
                raw({
                    ...valid(),
                    github,
                    repository: { releaseManagers: ["rm"], environments: { "prod-preview": { deployFrom: { tags: ["v*"] } } } },
                }),
            );
            assert.deepStrictEqual(config.repository, {
                releaseManagers: ["rm"],
                environments: { "prod-preview": { deployFrom: { tags: ["v*"] } } },
                repository: "shop",
                // As esteira:protect says: the rulesets and environments are protected with the stack's own.
                protect: false,
            });
            assertProblems({ ...valid(), github, repository: { releaseManagers: ["rm"], environments: { review: { deployFrom: {} } } } }, [
                "homolog: repository.environments.review.deployFrom: name at least one branch or tag pattern, or use all / protected",
            ]);
        });

        it("github.canAdminsBypass is a boolean", () => {
            assertProblems({ ...valid(), github: { repository: "shop", canAdminsBypass: "no" } }, [
                'homolog: github.canAdminsBypass: expected true or false, received "no"',
            ]);
        });
    });

    describe("retired values: another stack's credentials through its state (issue 24), each with its exact message", () => {
        itHolds(
            ["cluster-mode-stack-retired"],
            "cluster.mode stack fails, saying what replaced it, before anything else of the cluster",
            () => {
                assertProblems({ ...valid(), cluster: { mode: "stack", stack: "review" } }, [
                    'homolog: cluster.mode: "stack" is no longer supported: it deployed with the `tenantKubeconfig` its base exported, and a base hands no credential of its own or of its tenant issuer to another stack through its state (the issuer may only create and grant pull-request namespaces, so nothing could deploy with it); use cluster.mode "kubeconfig" and set a credential scoped to this stack\'s namespace as the secret esteira:kubeconfig (`pulumi config set --secret esteira:kubeconfig -s homolog < <file>`), as a pull-request stack gets it from `scripts/pr-stack.sh grant <number>`',
                ]);
            },
        );

        itHolds(["database-mode-shared-retired"], "database.mode shared fails, naming the modes that replace it", () => {
            assertProblems({ ...valid(), database: { mode: "shared", stack: "homolog-base", databaseName: "shop" } }, [
                'homolog: database.mode: "shared" is no longer supported: it made this stack\'s database in another stack\'s DigitalOcean database cluster, whose firewall admits only that stack\'s Kubernetes cluster, reached through cluster.mode "stack", which is retired; use database.mode "namespace" (a PostgreSQL of this stack\'s own in its namespace, as pull-request stacks do), "server" with an admin connection of this stack\'s own in the secret esteira:databaseAdminUrl, or "external" with esteira:databaseUrl',
            ]);
        });

        itHolds(["database-stack-retired"], "database.stack fails: a server's admin connection is the stack's own secret", () => {
            assertProblems({ ...valid(), database: { mode: "server", stack: "review" } }, [
                "homolog: database.stack: \"review\" is no longer read: a base hands no database admin connection to another stack through its state (every stack that read it held the server's admin login); remove database.stack and set an admin connection of this stack's own as the secret esteira:databaseAdminUrl (`pulumi config set --secret esteira:databaseAdminUrl 'postgresql://admin:password@host:5432/postgres?sslmode=require' -s homolog`), or use database.mode \"namespace\"",
            ]);
        });

        it("a retired value's message stands in for the schema's alone: the stack's other problems are still reported", () => {
            assertProblems({ ...valid(), cluster: { mode: "stack", stack: "review" }, namespace: "Shop_Homolog" }, [
                'homolog: cluster.mode: "stack" is no longer supported: it deployed with the `tenantKubeconfig` its base exported, and a base hands no credential of its own or of its tenant issuer to another stack through its state (the issuer may only create and grant pull-request namespaces, so nothing could deploy with it); use cluster.mode "kubeconfig" and set a credential scoped to this stack\'s namespace as the secret esteira:kubeconfig (`pulumi config set --secret esteira:kubeconfig -s homolog < <file>`), as a pull-request stack gets it from `scripts/pr-stack.sh grant <number>`',
                `homolog: namespace: namespace must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit; received "Shop_Homolog"`,
            ]);
        });
    });

    describe("accepted-but-wrong rules (issue 12), each with its exact message", () => {
        const doToken = () => ({ registryToken: token(), digitaloceanToken: token() });
        const doCluster = (extra: Record<string, unknown> = {}) => ({
            mode: "digitalocean",
            region: "nyc1",
            version: "1.33.1-do.0",
            nodePool: { size: "s-2vcpu-4gb", minNodes: 1, maxNodes: 3 },
            ...extra,
        });
        const service = (extra: Record<string, unknown>) => ({ ...valid(), services: { api: { image: "ghcr.io/acme/api:1", ...extra } } });

        itHolds(["promote-from-another-stack"], "a stack never promotes from itself, named bare or in full", () => {
            assertProblems(
                {
                    ...valid(),
                    services: { api: { image: { promoteFrom: "esteira/homolog" } } },
                },
                [
                    'homolog: services.api.image.promoteFrom: names this stack itself ("esteira/homolog"); promote from the stack before this one in the line, or build the image here (image.build)',
                ],
            );
            // The same stack name in another project or organization is another stack.
            const config = parseConfig(raw({ ...valid(), services: { api: { image: { promoteFrom: "other/esteira/homolog" } } } }));
            assert.deepStrictEqual(config.services.api.image, { promoteFrom: "other/esteira/homolog", service: "api" });
        });

        it("env takes strings, booleans and whole numbers; anything YAML may have changed must be quoted", () => {
            const message = (value: number) =>
                `homolog: services.api.env.VERSION: YAML read this as the number ${value}, which may not be what the file says (1.10 reads as 1.1, long numbers lose digits): quote it`;
            assertProblems(service({ env: { VERSION: 1.1 } }), [message(1.1)]);
            // A long number, as YAML hands it over: rounded to the nearest double.
            const long = Number("12345678901234567890");
            assertProblems(service({ env: { VERSION: long } }), [message(long)]);
            const envWrittenAs = () => "4";
            assert.deepStrictEqual(
                parseConfig({ ...raw(service({ env: { WORKERS: 4, DEBUG: false, NAME: "1.10" } })), envWrittenAs }).services.api.env,
                {
                    WORKERS: "4",
                    DEBUG: "false",
                    NAME: "1.10",
                },
            );
        });

        it("requests do not exceed the default limits either", () => {
            assertProblems(service({ resources: { requests: { cpuMillicores: 1000 } } }), [
                "homolog: services.api.resources: requests.cpuMillicores (1000) must be <= limits.cpuMillicores (500, the default); set limits.cpuMillicores too",
            ]);
        });

        it("a service that migrates has a name short enough for its Job's pod label", () => {
            const name = "a".repeat(47);
            assertProblems(
                { ...valid(), database: { mode: "external" }, services: { [name]: { image: "x", migrate: { command: ["m"] } } } },
                [
                    `homolog: services.${name}: a service with migrate has a name of at most 46 characters: its migration Job is named <name>-migrate-<8 characters>, which Kubernetes copies into a label of at most 63; received 47 characters`,
                ],
                { registryToken: token(), databaseUrl: token() },
            );
        });

        it("revisionHistoryLimit keeps at least one ReplicaSet to roll back to", () => {
            assertProblems(service({ revisionHistoryLimit: 0 }), [
                "homolog: services.api.revisionHistoryLimit: 0 keeps no earlier ReplicaSet, so `kubectl rollout undo` has nothing to return to; use at least 1; received 0",
            ]);
        });

        itHolds(["release-steps"], "migrate needs a DATABASE_URL", () => {
            assertProblems(service({ migrate: { command: ["m"] } }), [
                "homolog: services.api.migrate: would run with no DATABASE_URL: the stack has no esteira:database; give it one (esteira:database, or secretEnv.DATABASE_URL), or remove migrate",
            ]);
            assertProblems(
                { ...service({ migrate: { command: ["m"] }, database: false }), database: { mode: "external" } },
                [
                    "homolog: services.api.migrate: would run with no DATABASE_URL: the service sets database: false; give it one (esteira:database, or secretEnv.DATABASE_URL), or remove migrate",
                ],
                { registryToken: token(), databaseUrl: token() },
            );
            const own = service({
                migrate: { command: ["m"] },
                secretEnv: { DATABASE_URL: { secretName: "db", key: "url", external: true } },
            });
            assert.ok(parseConfig(raw(own)).services.api.migrate);
        });

        it("seed, like migrate, needs a name its Job can carry and a DATABASE_URL", () => {
            const name = `s${"e".repeat(MAX_SEEDING_SERVICE_NAME)}`;
            assertProblems(
                { ...valid(), database: { mode: "external" }, services: { [name]: { image: "x", seed: { command: ["s"] } } } },
                [
                    `homolog: services.${name}: a service with seed has a name of at most 49 characters: its seed Job is named <name>-seed-<8 characters>, which Kubernetes copies into a label of at most 63; received 50 characters`,
                ],
                { registryToken: token(), databaseUrl: token() },
            );
            assertProblems(service({ seed: { command: ["s"] } }), [
                "homolog: services.api.seed: would run with no DATABASE_URL: the stack has no esteira:database; give it one (esteira:database, or secretEnv.DATABASE_URL), or remove seed",
            ]);
        });

        it("an image ref is a valid reference", () => {
            assertProblems(service({ image: "ghcr.io/Acme/api:1" }), [
                'homolog: services.api.image.ref: is not an image reference (invalid reference format: repository name must be lowercase): write <registry>/<repository>[:<tag>][@sha256:<digest>] in lower case, e.g. ghcr.io/acme/api:1.4.2; received "ghcr.io/Acme/api:1"',
            ]);
        });

        itHolds(["images-on-registry"], "images.repository is on the registry the push token authenticates to", () => {
            assertProblems({ ...valid(), images: { repository: "docker.io/acme/shop" } }, [
                'homolog: images.repository: pushes to "docker.io", but esteira:registry.server is "ghcr.io", the only registry the push token authenticates to; put the images on ghcr.io or point esteira:registry at docker.io',
            ]);
        });

        itHolds(
            ["stateful-rename-acknowledged"],
            "a name the stack deployed last time that holds data changes only when acknowledged",
            () => {
                const doDatabase = { ...valid(), cluster: doCluster(), database: { mode: "digitalocean" } };
                const previousStatefulNames = { namespace: "esteira-homolog", databaseCluster: "esteira-homolog-db", database: "app" };
                const renamed = (values: Record<string, unknown>) => {
                    try {
                        parseConfig({ ...raw(values, doToken()), previousStatefulNames });
                        return [];
                    } catch (err) {
                        return (err as ConfigError).problems;
                    }
                };
                assert.deepStrictEqual(renamed(doDatabase), [], "the same names: nothing to say");
                assert.deepStrictEqual(renamed({ ...doDatabase, environment: "staging" }), [
                    'homolog: the namespace was deployed as "esteira-homolog" and would now be "esteira-staging" (its name follows esteira:namespace, else <project>-<environment>): the engine would replace it; the old namespace is deleted with everything in it, its volume claims and their data among them. To keep it, set its name back to "esteira-homolog"; to rename it on purpose (after a backup), set esteira:acknowledgedRenames.namespace: "esteira-staging" in Pulumi.homolog.yaml',
                    'homolog: the database cluster was deployed as "esteira-homolog-db" and would now be "esteira-staging-db" (its name follows database.name, else <project>-<environment>-db): the engine would replace it; DigitalOcean creates a new, empty cluster; the old one and its data are kept apart (retainOnDelete) or deleted. To keep it, set its name back to "esteira-homolog-db"; to rename it on purpose (after a backup), set esteira:acknowledgedRenames.databaseCluster: "esteira-staging-db" in Pulumi.homolog.yaml',
                ]);
                const kept = {
                    ...doDatabase,
                    environment: "staging",
                    namespace: "esteira-homolog",
                    database: { mode: "digitalocean", name: "esteira-homolog-db" },
                };
                assert.deepStrictEqual(renamed(kept), [], "names set back: nothing is replaced");
                const acknowledged = {
                    ...doDatabase,
                    environment: "staging",
                    acknowledgedRenames: { namespace: "esteira-staging", databaseCluster: "esteira-staging-db" },
                };
                assert.deepStrictEqual(renamed(acknowledged), [], "a rename the stack file acknowledges goes through");
                assert.deepStrictEqual(renamed({ ...doDatabase, acknowledgedRenames: { cluster: "x" } }), [
                    "homolog: acknowledgedRenames.cluster: names nothing that holds data; use one of namespace, databaseCluster, database, databaseUser, githubEnvironment, namespaces.<key>",
                ]);
                assert.deepStrictEqual(
                    parseConfig(raw(valid())).statefulNames,
                    { namespace: "esteira-homolog" },
                    "what the stack exports for next time",
                );
            },
        );

        itHolds(["env-number-as-written"], "an env number reaches the container as the stack file writes it, or is quoted", () => {
            const written: Record<string, string> = { A: "1.0", B: "0123", C: "0x1F", D: "1e3", E: "42", F: "-7" };
            const values = service({ env: { A: 1, B: 83, C: 31, D: 1000, E: 42, F: -7 } });
            assert.throws(
                () => parseConfig({ ...raw(values), envWrittenAs: (_kind, _name, variable) => written[variable] }),
                (err: ConfigError) => {
                    assert.deepStrictEqual(err.problems, [
                        'homolog: services.api.env.A: written 1.0, which YAML reads as the number 1: the container would get "1"; quote it to keep it as written (A: "1.0")',
                        'homolog: services.api.env.B: written 0123, which YAML reads as the number 83: the container would get "83"; quote it to keep it as written (B: "0123")',
                        'homolog: services.api.env.C: written 0x1F, which YAML reads as the number 31: the container would get "31"; quote it to keep it as written (C: "0x1F")',
                        'homolog: services.api.env.D: written 1e3, which YAML reads as the number 1000: the container would get "1000"; quote it to keep it as written (D: "1e3")',
                    ]);
                    return true;
                },
            );
            // Without the stack file's text (a config file given elsewhere), every number asks for quotes.
            assertProblems(service({ env: { E: 42 } }), [
                'homolog: services.api.env.E: the number 42, and Pulumi.homolog.yaml does not show how it was written (1.0, 1e3, 0123 and 0x1F reach the program changed); quote it (E: "42")',
            ]);
        });

        itHolds(["env-credential-in-secrets"], "a credential in plain env is refused, unless the name only looks like one", () => {
            const instead = (variable: string) =>
                `put it in esteira:secrets (\`pulumi config set --secret --path 'esteira:secrets.<secret>.${variable}' <value> -s homolog\`) and read it with services.api.secretEnv.${variable}: {secretName: <secret>, key: ${variable}}`;
            assertProblems(
                service({
                    env: {
                        CACHE_URL: "redis://app:hunter2@cache:6379/0",
                        DB_PASSWORD: "hunter2",
                        PASSWORD_MIN_LENGTH: "12",
                        PUBLIC_URL: "https://x",
                    },
                }),
                [
                    `homolog: services.api.env.CACHE_URL: a URL with a password (redis://app:***@cache:6379/0) in plain env would be stored and shown in plain text; ${instead("CACHE_URL")}`,
                    `homolog: services.api.env.DB_PASSWORD: the name of a credential, and plain env would store and show its value in plain text; ${instead("DB_PASSWORD")}, or, if it is no secret (e.g. PASSWORD_MIN_LENGTH), list it in services.api.envNotSecret`,
                    `homolog: services.api.env.PASSWORD_MIN_LENGTH: the name of a credential, and plain env would store and show its value in plain text; ${instead("PASSWORD_MIN_LENGTH")}, or, if it is no secret (e.g. PASSWORD_MIN_LENGTH), list it in services.api.envNotSecret`,
                ],
            );
            const optedOut = service({ env: { PASSWORD_MIN_LENGTH: "12" }, envNotSecret: ["PASSWORD_MIN_LENGTH"] });
            assert.deepStrictEqual(parseConfig(raw(optedOut)).services.api.env, { PASSWORD_MIN_LENGTH: "12" });
            assertProblems(service({ env: {}, envNotSecret: ["OLD_TOKEN"] }), [
                'homolog: services.api.envNotSecret: ["OLD_TOKEN"] is not in env; remove it from envNotSecret',
            ]);
        });

        itHolds(["secret-keys-the-mode-uses"], "a secret key the stack's modes never read is reported unused", () => {
            const unused = (key: string, why: string) =>
                `homolog: ${key}: is set but unused: ${why}, which does not read it; remove it (\`pulumi config rm ${key} -s homolog\`), or set the mode that uses it`;
            assertProblems(
                { ...valid(), cluster: doCluster(), database: { mode: "digitalocean" } },
                [
                    unused("esteira:kubeconfig", 'cluster.mode is "digitalocean"'),
                    unused("esteira:databaseUrl", 'database.mode is "digitalocean"'),
                    unused("esteira:databaseAdminUrl", 'database.mode is "digitalocean"'),
                ],
                { ...doToken(), kubeconfig: token(), databaseUrl: token(), databaseAdminUrl: token() },
            );
            // An external database's admin connection was only ever there to be exported to other stacks.
            assertProblems(
                { ...valid(), database: { mode: "external" } },
                [unused("esteira:databaseAdminUrl", 'database.mode is "external"')],
                { registryToken: token(), kubeconfig: token(), databaseUrl: token(), databaseAdminUrl: token() },
            );
            const server = { ...valid(), database: { mode: "server" } };
            parseConfig(raw(server, { registryToken: token(), kubeconfig: token(), databaseAdminUrl: token() }));
        });

        itHolds(["size-slugs-offered"], "a size slug DigitalOcean does not offer is refused, unless esteira:extraSizes names it", () => {
            const values = {
                ...valid(),
                cluster: doCluster({ nodePool: { size: "s-2vcpu-4bg", minNodes: 1, maxNodes: 3 } }),
                database: { mode: "digitalocean", size: "db-s-2vcpu-8gb" },
            };
            assertProblems(
                values,
                [
                    'homolog: cluster.nodePool.size: "s-2vcpu-4bg" is not a size DigitalOcean offers (close: s-2vcpu-4gb); pick one from `doctl kubernetes options sizes`, or, if DigitalOcean offers it and esteira\'s list lags, add it to esteira:extraSizes',
                    'homolog: database.size: "db-s-2vcpu-8gb" is not a size DigitalOcean offers (close: db-s-1vcpu-1gb, db-s-1vcpu-2gb, db-s-2vcpu-4gb, db-s-4vcpu-8gb); pick one from `doctl databases options slugs --engine pg`, or, if DigitalOcean offers it and esteira\'s list lags, add it to esteira:extraSizes',
                ],
                doToken(),
            );
            const allowed = parseConfig(raw({ ...values, extraSizes: ["s-2vcpu-4bg", "db-s-2vcpu-8gb"] }, doToken()));
            assert.strictEqual(allowed.database?.mode, "digitalocean");
        });

        itHolds(["postgres-names"], "database and user names PostgreSQL or DigitalOcean would refuse or cut are refused", () => {
            const long = "a".repeat(64);
            const db = (databaseName: string, user: string) => ({
                ...valid(),
                database: { mode: "server", databaseName, user },
            });
            const secrets = { registryToken: token(), databaseAdminUrl: token() };
            assertProblems(
                db(long, "pg_app"),
                [
                    `homolog: database.databaseName: is 64 bytes, and PostgreSQL cuts names to 63, so two stacks could share one; shorten it; received "${long}"`,
                    'homolog: database.user: starts with "pg_", which PostgreSQL keeps for its own roles and schemas; name it otherwise; received "pg_app"',
                ],
                secrets,
            );
            assertProblems(
                db("template1", "public"),
                [
                    'homolog: database.databaseName: is one PostgreSQL or DigitalOcean keeps for itself (postgres, template0, template1, defaultdb, _dodb); name it otherwise; received "template1"',
                    'homolog: database.user: is one PostgreSQL or DigitalOcean keeps for itself (postgres, public, none, current_user, session_user, current_role, doadmin, _dodb); name it otherwise; received "public"',
                ],
                secrets,
            );
            assertProblems(
                db("shop db", "shop"),
                [
                    'homolog: database.databaseName: must start with a letter or underscore and hold only letters, digits, underscores and hyphens (DigitalOcean\'s rule), e.g. shop-homolog; received "shop db"',
                ],
                secrets,
            );
            assert.strictEqual(parseConfig(raw(db("shop-homolog", "shop_homolog"), secrets)).database?.mode, "server");
        });

        itHolds(["github-reviewers-unique"], "each reviewer team and user is listed once", () => {
            assertProblems(
                {
                    ...valid(),
                    github: { repository: "shop", reviewers: { teams: ["platform", "qa", "platform"], users: ["alice", "Alice"] } },
                },
                [
                    'homolog: github.reviewers.users: ["Alice"] listed more than once (GitHub names are case-insensitive); list each once',
                    'homolog: github.reviewers.teams: ["platform"] listed more than once (GitHub names are case-insensitive); list each once',
                ],
            );
        });

        itHolds(["kubeconfig-path-exists"], "a kubeconfigPath names a file that exists, read before the first resource", () => {
            const values = { ...valid(), cluster: { mode: "kubeconfig", kubeconfigPath: "~/.kube/lab" } };
            const home = path.join(os.homedir(), ".kube/lab");
            assert.throws(
                () => parseConfig({ ...raw(values), pathExists: () => false }),
                (err: ConfigError) => {
                    assert.deepStrictEqual(err.problems, [
                        `homolog: cluster.kubeconfigPath: "~/.kube/lab" does not exist (${home}) (a relative path starts in the project directory, where Pulumi.yaml is); write the cluster's kubeconfig there (e.g. \`kind get kubeconfig > ~/.kube/lab\`), or leave kubeconfigPath out and give its contents with \`pulumi config set --secret esteira:kubeconfig -s homolog < <file>\``,
                    ]);
                    return true;
                },
            );
            assert.strictEqual(parseConfig({ ...raw(values), pathExists: (file) => file === home }).cluster.mode, "kubeconfig");
        });

        itHolds(["build-paths-exist"], "a build context and its Dockerfile exist", () => {
            const values = {
                ...valid(),
                images: { repository: "ghcr.io/acme/shop" },
                services: { api: { image: { build: { context: "services/api" } } } },
            };
            const exists = (present: string[]) => (file: string) => present.includes(file);
            assert.throws(
                () => parseConfig({ ...raw(values), pathExists: exists([]) }),
                (err: ConfigError) => {
                    assert.deepStrictEqual(err.problems, [
                        'homolog: services.api.image.build.context: "services/api" does not exist (paths are relative to the project directory, where Pulumi.yaml is)',
                    ]);
                    return true;
                },
            );
            assert.throws(
                () => parseConfig({ ...raw(values), pathExists: exists(["services/api"]) }),
                (err: ConfigError) => {
                    assert.deepStrictEqual(err.problems, [
                        'homolog: services.api.image.build.dockerfile: "services/api/Dockerfile" does not exist (paths are relative to the project directory, where Pulumi.yaml is)',
                    ]);
                    return true;
                },
            );
            assert.ok(parseConfig({ ...raw(values), pathExists: exists(["services/api", "services/api/Dockerfile"]) }));
        });

        it("a worker's or job's image is checked as a service's: its build context exists, its promoteFrom names another stack", () => {
            const values = {
                ...valid(),
                images: { repository: "ghcr.io/acme/shop" },
                workers: { mailer: { image: { build: { context: "services/mailer" } } } },
                jobs: { report: { image: { promoteFrom: "homolog" }, schedule: "@daily" } },
            };
            assert.throws(
                () => parseConfig({ ...raw(values), pathExists: () => false }),
                (err: ConfigError) => {
                    assert.deepStrictEqual(err.problems, [
                        'homolog: workers.mailer.image.build.context: "services/mailer" does not exist (paths are relative to the project directory, where Pulumi.yaml is)',
                        'homolog: jobs.report.image.promoteFrom: names this stack itself ("homolog"); promote from the stack before this one in the line, or build the image here (image.build)',
                    ]);
                    return true;
                },
            );
        });

        it("DigitalOcean slugs and ranges that cannot be right fail before the API", () => {
            assertProblems(
                {
                    ...valid(),
                    cluster: doCluster({
                        region: "new-york-1",
                        version: "1.33",
                        vpcIpRange: "10.10.0.0/33",
                        nodePool: { size: "latest", minNodes: 1, maxNodes: 1 },
                    }),
                },
                [
                    'homolog: cluster.region: region must be a DigitalOcean region slug such as nyc1, ams3 or sgp1 (`doctl compute region list`); received "new-york-1"',
                    'homolog: cluster.version: version must be a pinned DOKS version slug such as 1.33.1-do.0 (`doctl kubernetes options versions`), so an upgrade is a reviewed change; received "1.33"',
                    'homolog: cluster.vpcIpRange: vpcIpRange must be an IPv4 CIDR range such as 10.10.0.0/16; received "10.10.0.0/33"',
                    'homolog: cluster.nodePool.size: size must be a DigitalOcean size slug such as s-2vcpu-4gb (`doctl kubernetes options sizes`); received "latest"',
                ],
                doToken(),
            );
            assertProblems(
                { ...valid(), cluster: doCluster({ version: "latest", vpcIpRange: "8.8.0.0/16" }) },
                [
                    'homolog: cluster.version: version must be a pinned DOKS version slug such as 1.33.1-do.0 (`doctl kubernetes options versions`), so an upgrade is a reviewed change; received "latest"',
                    'homolog: cluster.vpcIpRange: vpcIpRange must be a private range (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16) from /16 to /28, as DigitalOcean requires; received "8.8.0.0/16"',
                ],
                doToken(),
            );
            assertProblems(
                { ...valid(), cluster: doCluster(), database: { mode: "digitalocean", region: "NYC", size: "big", version: "16.2" } },
                [
                    'homolog: database.region: region must be a DigitalOcean region slug such as nyc1, ams3 or sgp1 (`doctl compute region list`); received "NYC"',
                    'homolog: database.version: version must be a PostgreSQL major version such as 16; received "16.2"',
                    'homolog: database.size: size must be a DigitalOcean size slug such as db-s-1vcpu-1gb (`doctl databases options slugs --engine pg`); received "big"',
                ],
                doToken(),
            );
        });

        itHolds(["expiry-pull-requests-only"], "expiry belongs to pull requests' stacks, which the sweep expires", () => {
            const expiry = { idleHours: 72, keepLabel: "keep-environment" };
            assertProblems({ ...valid(), expiry }, [
                "homolog: expiry: the nightly sweep expires pull requests' stacks (pr-<number>) only, never homolog; remove esteira:expiry from Pulumi.homolog.yaml (set it in stacks/pr.template.yaml)",
            ]);
            assert.doesNotThrow(() => parseConfig({ ...raw({ ...valid(), expiry }), stack: "pr-12" }));
        });

        it("expiry: idle hours are a positive number of at most 90 days, and the label that keeps a stack is named", () => {
            assertProblems({ ...valid(), expiry: { idleHours: 0, keepLabel: "" } }, [
                "homolog: expiry.idleHours: idleHours must be more than 0; received 0",
                'homolog: expiry.keepLabel: must not be empty; received ""',
            ]);
            assertProblems({ ...valid(), expiry: { idleHours: "3d", keepLabel: "keep" } }, [
                'homolog: expiry.idleHours: expected a number (e.g. 3), received "3d"',
            ]);
            assertProblems({ ...valid(), expiry: { idleHours: 5000, keepLabel: "keep" } }, [
                "homolog: expiry.idleHours: must be <= 2160; received 5000",
            ]);
        });

        itHolds(["system-namespace-adopted"], "a namespace Kubernetes creates itself is refused unless the stack adopts it", () => {
            assertProblems({ ...valid(), namespace: "kube-system" }, [
                'homolog: namespace: "kube-system" is one Kubernetes creates itself: this stack would take it over and delete it, with everything in it, when it goes; name a namespace of the stack\'s own, or set esteira:adoptNamespace: true to use it without ever deleting it',
            ]);
            const config = parseConfig(raw({ ...valid(), namespace: "default", adoptNamespace: true }));
            assert.strictEqual(config.adoptNamespace, true);
        });

        itHolds(
            ["github-owner-required", "github-variables-limit"],
            "GitHub: an owner, logins and team slugs alone, at most 100 variables",
            () => {
                assert.throws(
                    () => parseConfig({ ...raw({ ...valid(), github: { repository: "shop" } }), githubOwner: undefined }),
                    (err: ConfigError) => {
                        assert.deepStrictEqual(err.problems, [
                            "homolog: github:owner: is required when esteira:github is set (the owner of esteira:github.repository); set it with `pulumi config set github:owner <owner> -s homolog`",
                        ]);
                        return true;
                    },
                );
                assertProblems({ ...valid(), github: { repository: "shop", reviewers: { users: ["@alice"], teams: ["acme/qa"] } } }, [
                    'homolog: github.reviewers.users.0: a user is a GitHub login alone, e.g. "alice" (no "@"); received "@alice"',
                    'homolog: github.reviewers.teams.0: a team is its slug alone, e.g. "platform" (its organization is github:owner; no "@" or "org/"); received "acme/qa"',
                ]);
                const services = Object.fromEntries(Array.from({ length: 99 }, (_, i) => [`svc${i}`, { image: "x" }]));
                assertProblems({ ...valid(), github: { repository: "shop" }, services }, [
                    "homolog: github: the environment would get 101 Actions variables (ESTEIRA_STACK, ESTEIRA_NAMESPACE and one URL per service), more than the 100 GitHub allows; split the services across stacks",
                ]);
            },
        );

        it("github.environmentVariables fit beside esteira's own under GitHub's 100", () => {
            const environmentVariables = Object.fromEntries(Array.from({ length: 98 }, (_, i) => [`VAR_${i}`, "x"]));
            assertProblems({ ...valid(), github: { repository: "shop", environmentVariables } }, [
                "homolog: github.environmentVariables: 98 variables beside the 3 esteira writes (ESTEIRA_STACK, ESTEIRA_NAMESPACE and one URL per service) make 101, more than the 100 GitHub allows per environment; keep at most 97, or move some to github.repositoryVariables",
            ]);
            delete environmentVariables.VAR_0;
            assert.deepStrictEqual(problemsOf({ ...valid(), github: { repository: "shop", environmentVariables } }), []);
        });
    });

    describe("backups (esteira:backups), each rule with its exact message", () => {
        const s3 = { mode: "s3", endpoint: "http://127.0.0.1:7070", bucket: "shop-dev-backups" };
        const backups = (settings: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
            ...valid(),
            database: { mode: "external" },
            images: { repository: "ghcr.io/acme/shop" },
            backups: { image: { build: { context: "images/backup" } }, storage: s3, ...settings },
            ...extra,
        });
        const keys = (extra: Partial<RawConfig["secrets"]> = {}) => ({
            registryToken: token(),
            databaseUrl: token(),
            backupAccessKeyId: token(),
            backupSecretAccessKey: token(),
            ...extra,
        });

        it("takes the stack file's schedule, retention, drill and masking, and the bucket's key from the secrets", async () => {
            const config = parseConfig(
                raw(
                    backups({
                        schedule: "*/15 * * * *",
                        retentionDays: 30,
                        restoreDrill: { schedule: "0 5 * * 1" },
                        masking: { "users.email": "hash", "notes.body": "blank" },
                    }),
                    keys(),
                ),
            );
            assert.strictEqual(config.backups?.schedule, "*/15 * * * *");
            assert.strictEqual(config.backups?.retentionDays, 30);
            assert.strictEqual(config.backups?.restoreDrillSchedule, "0 5 * * 1");
            assert.strictEqual(config.backups?.production, false);
            assert.ok("build" in config.backups!.image && config.backups!.image.build.repository === "ghcr.io/acme/shop/backup");
            assert.ok(
                config.backups?.storage.mode === "s3" && (await isSecretOutput(pulumi.output(config.backups.storage.secretAccessKey))),
            );
        });

        it("a Spaces bucket is named after the project and the environment unless the stack names it", () => {
            const config = parseConfig(
                raw(
                    backups(
                        { storage: { mode: "spaces", region: "nyc3" } },
                        {
                            cluster: {
                                mode: "digitalocean",
                                region: "nyc1",
                                version: "1.33.1-do.0",
                                nodePool: { size: "s-2vcpu-4gb", minNodes: 1, maxNodes: 2 },
                                tokenFromEnvironment: true,
                            },
                        },
                    ),
                    { registryToken: token(), databaseUrl: token() },
                ),
            );
            assert.deepStrictEqual(config.backups?.storage, { mode: "spaces", region: "nyc3", bucket: "esteira-homolog-backups" });
        });

        it("schedule, retention, bucket, endpoint and masking are each checked", () => {
            assertProblems(
                backups({
                    schedule: "every day",
                    retentionDays: 0,
                    storage: { ...s3, bucket: "Shop_Backups", endpoint: "ftp://x" },
                    masking: { email: "hash", "users.name": "shuffle" },
                    restoreDrill: { schedule: "weekly" },
                }),
                [
                    'homolog: backups.schedule: must be a cron schedule of five fields, e.g. "*/15 * * * *", or @hourly, @daily, …; received "every day"',
                    "homolog: backups.retentionDays: must be >= 1; received 0",
                    'homolog: backups.storage.endpoint: must be the service\'s URL, e.g. https://s3.example.com; received "ftp://x"',
                    "homolog: backups.storage.bucket: must be a bucket name: 3 to 63 lowercase letters, digits, '-' and '.'; received \"Shop_Backups\"",
                    'homolog: backups.restoreDrill.schedule: must be a cron schedule of five fields, e.g. "*/15 * * * *", or @hourly, @daily, …; received "weekly"',
                    'homolog: backups.masking.email: must be <table>.<column>, lowercase, e.g. users.email; received "email"',
                    'homolog: backups.masking.users.name: must be one of "blank", "hash"; received "shuffle"',
                ],
                keys(),
            );
        });

        it("the storage is spaces or s3", () => {
            assertProblems(
                backups({ storage: { mode: "gcs" } }),
                ['homolog: backups.storage.mode: mode must be "spaces" or "s3"; received "gcs"'],
                keys(),
            );
        });

        itHolds(["backups-need-database"], "dumps need a database", () => {
            const { database: _database, ...values } = backups();
            assertProblems(
                values,
                [
                    "homolog: backups: dumps the environment's database, and the stack has none; set esteira:database, or remove esteira:backups",
                ],
                keys({ databaseUrl: undefined }),
            );
        });

        itHolds(["spaces-need-digitalocean"], "a Spaces bucket needs a DigitalOcean account", () => {
            assertProblems(
                backups({ storage: { mode: "spaces", region: "nyc3" } }),
                [
                    'homolog: backups.storage: a Spaces bucket needs a DigitalOcean account, so cluster.mode "digitalocean"; received cluster.mode "kubeconfig"; elsewhere use storage.mode "s3"',
                ],
                { registryToken: token(), databaseUrl: token() },
            );
        });

        itHolds(["s3-credentials-required"], "an s3 bucket's key is required, both halves", () => {
            assertProblems(
                backups(),
                [
                    "homolog: esteira:backupAccessKeyId: is required when backups.storage.mode is \"s3\"; set it with `pulumi config set --secret esteira:backupAccessKeyId '<a key that reaches only the bucket>' -s homolog`",
                    "homolog: esteira:backupSecretAccessKey: is required when backups.storage.mode is \"s3\"; set it with `pulumi config set --secret esteira:backupSecretAccessKey '<a key that reaches only the bucket>' -s homolog`",
                ],
                { registryToken: token(), databaseUrl: token() },
            );
        });

        itHolds(["s3-credentials-need-s3"], "an s3 key without s3 storage is refused", () => {
            assertProblems(
                { ...valid(), database: { mode: "external" } },
                [
                    'homolog: esteira:backupAccessKeyId: is set, but backups.storage.mode is not "s3"; remove it with `pulumi config rm esteira:backupAccessKeyId -s homolog`',
                    'homolog: esteira:backupSecretAccessKey: is set, but backups.storage.mode is not "s3"; remove it with `pulumi config rm esteira:backupSecretAccessKey -s homolog`',
                ],
                keys(),
            );
        });

        itHolds(["backup-name-reserved"], "no workload is named backup, the name of the backups' image", () => {
            assertProblems(
                backups({}, { jobs: { backup: { image: "x", schedule: "0 3 * * *" } } }),
                [
                    'homolog: backups: the images output and esteira:pins name the backups\' image "backup", which a workload of this stack is named too; rename that workload',
                ],
                keys(),
            );
        });

        itHolds(["restore-drill-service-migrates"], "the drill's service is one with migrations", () => {
            assertProblems(
                backups({ restoreDrill: { service: "api" } }),
                [
                    'homolog: backups.restoreDrill.service: "api" is no service of this stack with `migrate`; name the one whose migrations the drill runs against the restored copy',
                ],
                keys(),
            );
        });

        itHolds(["pins-name-workloads"], "the backups' image may be pinned as backup", () => {
            const pinned = `ghcr.io/acme/shop/backup@sha256:${"a".repeat(64)}`;
            const config = parseConfig(raw(backups({}, { pins: { backup: pinned } }), keys()));
            assert.deepStrictEqual(config.backups?.image, { ref: pinned });
        });
    });

    describe("release gate (esteira:vulnerabilityAllowList), each rule with its exact message", () => {
        const entry = { id: "CVE-2024-12345", package: "openssl", reason: "the TLS code path is not used", expires: "2027-01-31" };
        const listing = (...entries: Record<string, unknown>[]) => ({ ...valid(), vulnerabilityAllowList: entries });

        it("an entry with an advisory id, a package, a reason and an expiry is accepted; a GHSA id and no package too", () => {
            assert.deepStrictEqual(
                problemsOf(listing(entry, { id: "GHSA-jf85-cpcp-j695", reason: "no fix released yet", expires: "2026-12-31" })),
                [],
            );
        });

        it("an expiry written unquoted, which the Pulumi CLI reads as a YAML timestamp, is that day", () => {
            assert.deepStrictEqual(problemsOf(listing({ ...entry, expires: "2027-01-31 00:00:00 +0000 UTC" })), []);
            assertProblems(listing({ ...entry, expires: "2027-02-30 00:00:00 +0000 UTC" }), [
                'homolog: vulnerabilityAllowList.0.expires: must be a day, YYYY-MM-DD, e.g. 2027-01-31; received "2027-02-30"',
            ]);
        });

        it("the id is a CVE or GitHub advisory id", () => {
            assertProblems(listing({ ...entry, id: "CVE-24" }), [
                'homolog: vulnerabilityAllowList.0.id: must be a CVE id such as CVE-2024-12345 or a GitHub advisory id such as GHSA-xxxx-xxxx-xxxx; received "CVE-24"',
            ]);
        });

        it("the reason says why, in at least 10 characters", () => {
            assertProblems(listing({ ...entry, reason: "  ok  " }), [
                'homolog: vulnerabilityAllowList.0.reason: say why the finding is accepted (at least 10 characters): not reachable, no fix released yet, …; received "  ok  "',
            ]);
        });

        it("the expiry is a day that exists, YYYY-MM-DD", () => {
            assertProblems(listing({ ...entry, expires: "2027-02-30" }), [
                'homolog: vulnerabilityAllowList.0.expires: must be a day, YYYY-MM-DD, e.g. 2027-01-31; received "2027-02-30"',
            ]);
        });

        it("a reason and an expiry are required", () => {
            assertProblems(listing({ id: entry.id }), [
                "homolog: vulnerabilityAllowList.0.reason: is required (expected string)",
                "homolog: vulnerabilityAllowList.0.expires: is required (expected string)",
            ]);
        });

        it("an entry with an empty package name is refused (leave the key out to cover every package)", () => {
            assertProblems(listing({ ...entry, package: "" }), [
                'homolog: vulnerabilityAllowList.0.package: must not be empty; received ""',
            ]);
        });

        it("one advisory in one package is listed once", () => {
            assertProblems(listing(entry, { ...entry, expires: "2028-01-31" }), [
                "homolog: vulnerabilityAllowList.1: lists CVE-2024-12345 in openssl a second time; keep one entry with one reason and one expiry",
            ]);
        });
    });

    describe("loadConfig", () => {
        before(async () => {
            await new Recorder().install("homolog");
        });

        it("reads the stack's values and keeps the token secret", async () => {
            setConfig(
                {
                    "esteira:protect": "false",
                    "esteira:registry": valid().registry,
                    "esteira:services": valid().services,
                },
                { "esteira:registryToken": "t0ken", "esteira:kubeconfig": "apiVersion: v1" },
            );
            const config = loadConfig();
            assert.deepStrictEqual(config.services.api.image, { ref: "ghcr.io/acme/api:1" });
            assert.strictEqual(await promiseOf(config.registry?.token), "t0ken");
            assert.ok(await isSecretOutput(config.registry?.token), "registry token must be secret");
            assert.ok(
                config.cluster.mode === "kubeconfig" && (await isSecretOutput(pulumi.output(config.cluster.kubeconfig))),
                "kubeconfig must be secret",
            );
        });

        it("reads esteira:secrets only as Pulumi secrets, its names as plain keys", async () => {
            setConfig(
                {
                    "esteira:protect": "false",
                    "esteira:registry": valid().registry,
                    "esteira:services": { api: { image: "x", secretEnv: { TOKEN: { secretName: "api-secrets", key: "TOKEN" } } } },
                },
                { "esteira:registryToken": "t0ken", "esteira:secrets": JSON.stringify({ "api-secrets": { TOKEN: "v4lue" } }) },
            );
            const config = loadConfig();
            const value = config.appSecrets["api-secrets"].TOKEN;
            assert.strictEqual(await promiseOf(value), "v4lue");
            assert.ok(await isSecretOutput(value), "the value is a Pulumi secret from the read on");
        });

        it("takes every secret key issue 13 adds, set with --secret, as a secret and never as a plain key holding one", async () => {
            const build = { context: "app", secrets: ["NPM_TOKEN"] };
            setConfig(
                {
                    "esteira:protect": "false",
                    "esteira:registry": valid().registry,
                    // Monitoring is DigitalOcean's; the token comes from the deploying job's environment.
                    "esteira:cluster": {
                        mode: "digitalocean",
                        region: "nyc1",
                        version: "1.33.1-do.0",
                        nodePool: { size: "s-2vcpu-4gb", minNodes: 1, maxNodes: 3 },
                        tokenFromEnvironment: true,
                    },
                    "esteira:images": { repository: "ghcr.io/acme/shop" },
                    "esteira:github": { repository: "shop" },
                    "github:owner": "acme",
                    "esteira:monitoring": { slackChannel: "#alerts" },
                    "esteira:services": {
                        api: { image: { build }, secretEnv: { TOKEN: { secretName: "api-secrets", key: "TOKEN" } } },
                    },
                },
                {
                    "esteira:registryToken": "t0ken",
                    "esteira:secrets": JSON.stringify({ "api-secrets": { TOKEN: "v4lue" } }),
                    "esteira:buildSecrets": JSON.stringify({ NPM_TOKEN: "npm-t0ken" }),
                    "esteira:githubSecrets": JSON.stringify({ environment: { SENTRY_TOKEN: "s3ntry" } }),
                    "esteira:slackWebhookUrl": "https://hooks.slack.com/services/T/B/x",
                },
            );
            const config = loadConfig();
            assert.ok(await isSecretOutput(config.appSecrets["api-secrets"].TOKEN));
            assert.ok(await isSecretOutput(pulumi.output(config.github?.secrets?.SENTRY_TOKEN)));
            assert.ok(await isSecretOutput(pulumi.output(config.monitoring?.slack?.url)));
        });

        it("refuses esteira:secrets held in plain text, without printing a value", () => {
            setConfig(
                {
                    "esteira:protect": "false",
                    "esteira:registry": valid().registry,
                    "esteira:services": { api: { image: "x", secretEnv: { TOKEN: { secretName: "api-secrets", key: "TOKEN" } } } },
                    "esteira:secrets": { "api-secrets": { TOKEN: "pl4intext" } },
                },
                { "esteira:registryToken": "t0ken" },
            );
            assert.throws(
                () => loadConfig(),
                (err: ConfigError) => {
                    assert.match(err.problems[0], /^homolog: esteira:secrets: the stack file holds these values in plain text/);
                    assert.ok(!err.message.includes("pl4intext"), "the value is never printed");
                    return true;
                },
            );
        });

        it("sees a value set with --secret --path as a secret plain key", () => {
            setConfig(
                { "esteira:protect": "false", "esteira:registry": valid().registry },
                {
                    "esteira:registryToken": "t0ken",
                    // What the CLI hands the program for `pulumi config set --secret --path esteira:services.api.env.API_KEY`.
                    "esteira:services": JSON.stringify({ api: { image: "x", env: { API_KEY: "sk-live-0123456789" } } }),
                },
            );
            assert.throws(
                () => loadConfig(),
                (err: ConfigError) => {
                    assert.match(err.problems[0], /^homolog: services: holds a value set with --secret/);
                    assert.ok(!err.message.includes("sk-live"));
                    return true;
                },
            );
        });

        it("names unknown esteira: keys", () => {
            setConfig(
                {
                    "esteira:protect": "false",
                    "esteira:registry": valid().registry,
                    "esteira:services": valid().services,
                    "esteira:replicas": "2",
                },
                { "esteira:registryToken": "t0ken" },
            );
            assert.throws(
                () => loadConfig(),
                (err: ConfigError) => {
                    assert.deepStrictEqual(err.problems, [
                        `homolog: esteira: unknown key "replicas": check the spelling against docs/configuration.md`,
                    ]);
                    return true;
                },
            );
        });
    });

    describe("cross-key rules", () => {
        it("have names of their own", () => {
            assert.deepStrictEqual(
                RULE_NAMES.filter((name, i) => RULE_NAMES.indexOf(name) !== i),
                [],
            );
        });

        it("each have a test above with their exact messages", () => {
            assert.deepStrictEqual(
                RULE_NAMES.filter((name) => !TESTED_RULES.has(name)),
                [],
                "write a test of the rule's exact message with itHolds([<rule>], …)",
            );
        });
    });
});
