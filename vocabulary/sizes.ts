/**
 * The size slugs DigitalOcean offers, as the DigitalOcean provider's SDK lists them (its
 * `DropletSlug` and `DatabaseSlug` enums): a well-formed slug that is not among them (a typo of a
 * real one) is refused before DigitalOcean is asked, unless `esteira:extraSizes` names it (a size
 * DigitalOcean added after the SDK; `doctl kubernetes options sizes`, `doctl databases options slugs --engine pg`).
 */
import { DatabaseSlug, DropletSlug } from "@pulumi/digitalocean/types/enums";

/** Droplet sizes, for node pools. */
export const DROPLET_SIZES: readonly string[] = Object.values(DropletSlug);
/** Managed database sizes. */
export const DATABASE_SIZES: readonly string[] = Object.values(DatabaseSlug);
