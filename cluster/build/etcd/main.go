// etcd's server module carries replace directives, so `go install` refuses it; as a dependency of
// this two-line main it builds.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
