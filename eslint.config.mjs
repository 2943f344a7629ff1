// Lint the Pulumi program and its tests; the sample app in app/ lints and tests on its own.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["node_modules/", "bin/", "app/", "scripts/"] },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
        rules: {
            "@typescript-eslint/no-explicit-any": "off",
            "@typescript-eslint/no-require-imports": "off",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
        },
    },
    {
        // No program function over 80 lines (issue 22): a longer one is a list or a switch waiting
        // to be split. Tests, e2e and benchmarks are lists of cases and stay out.
        files: ["*.ts", "vocabulary/**/*.ts", "components/**/*.ts", "config/**/*.ts", "lib/**/*.ts", "tools/**/*.ts", "policy/**/*.ts"],
        rules: {
            "max-lines-per-function": ["error", { max: 80, skipBlankLines: true, skipComments: true }],
        },
    },
    {
        // Product code never runs on test code: what tools need from the mocks is lib/ (issue 22;
        // test/architecture.test.ts holds the same rule over the import graph).
        files: [
            "*.ts",
            "vocabulary/**/*.ts",
            "components/**/*.ts",
            "config/**/*.ts",
            "lib/**/*.ts",
            "tools/**/*.ts",
            "bench/**/*.ts",
            "policy/index.ts",
            "policy/src/**/*.ts",
        ],
        rules: {
            "no-restricted-imports": [
                "error",
                { patterns: [{ regex: "^(\\.\\.?/)+test(/|$)", message: "product code imports lib/, never test/" }] },
            ],
        },
    },
);
