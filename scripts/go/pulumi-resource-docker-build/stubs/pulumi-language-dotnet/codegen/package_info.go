// Package codegen is a stand-in for pulumi-language-dotnet's codegen
// package, reduced to the one type the docker-build provider uses: the C#
// section of its schema's language metadata (consumed only by SDK
// generators). JSON names match pulumi-language-dotnet's CSharpPackageInfo.
package codegen

// CSharpPackageInfo is the "csharp" language entry of a package schema.
type CSharpPackageInfo struct {
	PackageReferences    map[string]string `json:"packageReferences,omitempty"`
	RespectSchemaVersion bool              `json:"respectSchemaVersion,omitempty"`
}
