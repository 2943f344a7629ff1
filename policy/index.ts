/**
 * esteira's CrossGuard policy pack: `pulumi preview --policy-pack policy --policy-pack-config
 * policy/config/<kind>.json`. Each policy sets its own enforcement level; see README.md.
 */
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./src/policies";

new PolicyPack("esteira", { policies });
