// Package java is a stand-in for pulumi-java's codegen package, reduced to
// the one type the docker-build provider uses: the Java section of its
// schema's language metadata (consumed only by SDK generators).
// JSON names match pulumi-java's PackageInfo.
package java

// PackageInfo is the "java" language entry of a package schema.
type PackageInfo struct {
	BuildFiles                      string            `json:"buildFiles"`
	Dependencies                    map[string]string `json:"dependencies,omitempty"`
	GradleNexusPublishPluginVersion string            `json:"gradleNexusPublishPluginVersion"`
}
