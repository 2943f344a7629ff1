// Stand-in for github.com/pulumi/pulumi-java: see ../../go.mod.
module github.com/pulumi/pulumi-java

go 1.22
