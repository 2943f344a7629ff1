import * as assert from "assert";
import { recordName, zoneOf, zoneProblem } from "../../../components/parts/tls";

describe("TLS (part)", () => {
    it("takes the zone from the hostname unless given, and names the record within it", () => {
        assert.strictEqual(zoneOf({ hostname: "shop.example.com" }), "example.com");
        assert.strictEqual(recordName({ hostname: "shop.example.com" }), "shop");
        assert.strictEqual(recordName({ hostname: "api.eu.example.com", zone: "example.com" }), "api.eu");
        assert.strictEqual(recordName({ hostname: "example.com", zone: "example.com" }), "@");
    });

    it("refuses a hostname outside its zone", () => {
        assert.strictEqual(zoneProblem({ hostname: "shop.example.com" }), undefined);
        assert.strictEqual(
            zoneProblem({ hostname: "shop.example.org", zone: "example.com" }),
            '"shop.example.org" is not in the zone "example.com"; set tls.zone to the DigitalOcean DNS zone it belongs to',
        );
        assert.ok(zoneProblem({ hostname: "badexample.com", zone: "example.com" }), "a suffix is not a subdomain");
    });
});
