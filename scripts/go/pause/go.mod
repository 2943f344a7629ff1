// Wrapper module: the node's sandbox ("pause") process. No sandbox image can be pulled
// here, so local-node.sh puts this static binary in an image and imports it into the
// node's containerd, pinned as the sandbox image.
module esteira.local/tools/pause

go 1.26
