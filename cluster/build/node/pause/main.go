// The pod sandbox's pause process for the real-nodes backend (image safe-drain.local/pause, FROM
// scratch): holds the pod's namespaces until SIGTERM/SIGINT, and reaps zombies as PID 1 of a pod
// that shares its PID namespace. Built static (CGO_ENABLED=0) by scripts/build-node-image.sh.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s == syscall.SIGCHLD {
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
			continue
		}
		os.Exit(0)
	}
}
