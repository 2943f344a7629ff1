/**
 * HTTPS for a public service on DigitalOcean: a Let's Encrypt certificate DigitalOcean manages and
 * renews, terminated at the service's load balancer, which redirects HTTP to HTTPS, and the DNS
 * record that points the name at the load balancer.
 */
import * as digitalocean from "@pulumi/digitalocean";
import * as pulumi from "@pulumi/pulumi";

/** A public service's name, and the DigitalOcean DNS zone it is in. */
export interface TlsSettings {
    /** Fully qualified name the certificate is for, e.g. `shop.example.com`. */
    hostname: string;
    /** The DigitalOcean DNS zone (domain) of the hostname. Default: the hostname without its first label. */
    zone?: string;
}

/** The annotation that records a reviewed exception: a public service without TLS, and why (policy/README.md). */
export const TLS_WAIVER_ANNOTATION = "esteira.dev/tls-waiver";

/** The port HTTPS is served on. */
export const HTTPS_PORT = 443;

const DO = "service.beta.kubernetes.io/do-loadbalancer-";

/** The zone a hostname's record goes in. */
export function zoneOf(tls: TlsSettings): string {
    return tls.zone ?? tls.hostname.slice(tls.hostname.indexOf(".") + 1);
}

/** The record's name within its zone: the labels before it, or `@` for the zone itself. */
export function recordName(tls: TlsSettings): string {
    const zone = zoneOf(tls);
    return tls.hostname === zone ? "@" : tls.hostname.slice(0, -(zone.length + 1));
}

/** Where a hostname is outside its zone, the problem. */
export function zoneProblem(tls: TlsSettings): string | undefined {
    const zone = zoneOf(tls);
    return tls.hostname === zone || tls.hostname.endsWith(`.${zone}`)
        ? undefined
        : `${JSON.stringify(tls.hostname)} is not in the zone ${JSON.stringify(zone)}; set tls.zone to the DigitalOcean DNS zone it belongs to`;
}

/**
 * The certificate (`<name>-certificate`). It is auto-named, so a new one (another hostname) is
 * created before the old one goes, and the load balancer refers to it by name, which a renewal keeps
 * (its id changes on every renewal).
 */
export function loadBalancerCertificate(name: string, tls: TlsSettings, opts: pulumi.CustomResourceOptions): digitalocean.Certificate {
    return new digitalocean.Certificate(`${name}-certificate`, { type: "lets_encrypt", domains: [tls.hostname] }, opts);
}

/** The load balancer's annotations: TLS on 443 with the certificate, HTTP behind it, HTTP redirected. */
export function tlsAnnotations(certificateName: pulumi.Input<string>): Record<string, pulumi.Input<string>> {
    return {
        [`${DO}protocol`]: "http",
        [`${DO}tls-ports`]: String(HTTPS_PORT),
        [`${DO}certificate-name`]: certificateName,
        [`${DO}redirect-http-to-https`]: "true",
        // esteira owns the DNS record (below), so DigitalOcean must not add one of its own.
        [`${DO}disable-lets-encrypt-dns-records`]: "true",
    };
}

/** The A record (`<name>-dns`) pointing the hostname at the load balancer's address. */
export function loadBalancerRecord(
    name: string,
    tls: TlsSettings,
    address: pulumi.Input<string>,
    opts: pulumi.CustomResourceOptions,
): digitalocean.DnsRecord {
    // A short TTL: a replaced load balancer (new address) is found again within minutes.
    return new digitalocean.DnsRecord(
        `${name}-dns`,
        { domain: zoneOf(tls), name: recordName(tls), type: "A", value: address, ttl: 300 },
        opts,
    );
}
