/**
 * What a tag points at in a registry, asked over the registry's HTTP API (the OCI distribution
 * API every registry speaks: `HEAD /v2/<repository>/manifests/<tag>`, answered with the
 * `Docker-Content-Digest` header), as a Pulumi dynamic resource: it looks again on every preview
 * and `up`, so a moved tag shows as a change. It needs no Docker daemon and no provider plugin
 * (the `@pulumi/docker` provider, which has such a lookup, cannot be built from the Go module
 * proxy: its Terraform provider module is not served).
 *
 * Credentials (a pull token, secret) go to the registry that asks for them, and to that registry's
 * token endpoint when it answers with a Bearer challenge (GHCR, Docker Hub), never elsewhere.
 */
import * as pulumi from "@pulumi/pulumi";

/** Manifests a tag may point at: a multi-platform index first, so its digest is the index's. */
export const MANIFEST_TYPES = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

/** Where a registry's API answers: Docker Hub's API host, plain HTTP on loopback (as Docker allows). */
export function registryBaseUrl(domain: string): string {
    if (domain === "docker.io") return "https://registry-1.docker.io";
    const host = domain.split(":")[0];
    const loopback = host === "localhost" || host === "::1" || /^127\./.test(host);
    return `${loopback ? "http" : "https"}://${domain}`;
}

/** The parameters of a `WWW-Authenticate` challenge: `Bearer realm="…",service="…"` → {scheme, realm, service}. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
    const [scheme, ...rest] = header.trim().split(" ");
    const params: Record<string, string> = {};
    for (const match of rest.join(" ").matchAll(/([a-zA-Z]+)="([^"]*)"/g)) params[match[1]] = match[2];
    return { scheme: scheme.toLowerCase(), params };
}

export interface RegistryDigestInputs {
    /** `<domain>/<repository>`, e.g. `ghcr.io/acme/shop/api` or `docker.io/library/nginx`. */
    domain: string;
    repository: string;
    /** A tag, or a digest (`sha256:…`) to check that the repository holds it. */
    tag: string;
    /** Credentials for that registry, or none (asked anonymously). */
    username?: string;
    password?: string;
    /** What the error adds when the registry has no such tag, e.g. how to get one. Default: nothing. */
    notFound?: string;
}

/** `:<tag>`, or `@<digest>` for a digest. */
function referenceSuffix(tag: string): string {
    return /^sha256:[0-9a-f]{64}$/.test(tag) ? `@${tag}` : `:${tag}`;
}

/** The digest `tag` points at; fails with the registry's answer (never the credentials). */
export async function lookUpDigest(args: RegistryDigestInputs): Promise<string> {
    const digest = referenceSuffix(args.tag).startsWith("@");
    // A digest's colon stays as it is: registries route `manifests/sha256:…` as the API spells it.
    const url = `${registryBaseUrl(args.domain)}/v2/${args.repository}/manifests/${digest ? args.tag : encodeURIComponent(args.tag)}`;
    const basic =
        args.username !== undefined && args.password !== undefined
            ? Buffer.from(`${args.username}:${args.password}`).toString("base64")
            : undefined;
    const head = (authorization?: string) =>
        fetch(url, { method: "HEAD", headers: { Accept: MANIFEST_TYPES, ...(authorization ? { Authorization: authorization } : {}) } });
    let response = await head();
    if (response.status === 401) {
        const { scheme, params } = parseChallenge(response.headers.get("www-authenticate") ?? "");
        if (scheme === "basic" && basic) {
            response = await head(`Basic ${basic}`);
        } else if (scheme === "bearer" && params.realm) {
            const tokenUrl = new URL(params.realm);
            if (params.service) tokenUrl.searchParams.set("service", params.service);
            tokenUrl.searchParams.set("scope", params.scope ?? `repository:${args.repository}:pull`);
            const token = await fetch(tokenUrl, { headers: basic ? { Authorization: `Basic ${basic}` } : {} });
            if (!token.ok) throw new Error(`${args.domain} refused a pull token for ${args.repository}: HTTP ${token.status}`);
            const body = (await token.json()) as { token?: string; access_token?: string };
            response = await head(`Bearer ${body.token ?? body.access_token}`);
        }
    }
    const found = response.headers.get("docker-content-digest");
    if (!response.ok || !found) {
        const missing = digest ? "no such manifest" : "no such tag";
        const why =
            response.status === 404
                ? args.notFound
                    ? `${missing}: ${args.notFound}`
                    : missing
                : response.status === 401
                  ? "unauthorized"
                  : `HTTP ${response.status}`;
        throw new Error(`${args.domain}/${args.repository}${referenceSuffix(args.tag)}: ${why}`);
    }
    return found;
}

type State = RegistryDigestInputs & { digest: string };

const provider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: RegistryDigestInputs) {
        return {
            id: `${inputs.domain}/${inputs.repository}${referenceSuffix(inputs.tag)}`,
            outs: { ...inputs, digest: await lookUpDigest(inputs) },
        };
    },
    // Looks again: a tag that moved since the last deploy is a change, shown in the preview.
    async diff(_id, olds: State, news: RegistryDigestInputs) {
        const moved = (await lookUpDigest(news)) !== olds.digest;
        const renamed = (["domain", "repository", "tag"] as const).some((key) => olds[key] !== news[key]);
        return { changes: moved || renamed || olds.username !== news.username || olds.password !== news.password };
    },
    async update(_id, _olds: State, news: RegistryDigestInputs) {
        return { outs: { ...news, digest: await lookUpDigest(news) } };
    },
};

/** The digest a tag points at, resolved when the stack is deployed (and looked at again by every preview). */
export class RegistryDigest extends pulumi.dynamic.Resource {
    declare public readonly digest: pulumi.Output<string>;

    constructor(
        name: string,
        args: {
            domain: string;
            repository: string;
            tag: pulumi.Input<string>;
            username?: pulumi.Input<string>;
            password?: pulumi.Input<string>;
            notFound?: string;
        },
        opts?: pulumi.CustomResourceOptions,
    ) {
        super(
            provider,
            name,
            { ...args, password: args.password === undefined ? undefined : pulumi.secret(args.password), digest: undefined },
            opts,
        );
    }
}
