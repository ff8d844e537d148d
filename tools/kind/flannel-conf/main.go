// flannel-conf writes this node's CNI configuration from flanneld's /run/flannel/subnet.env: a bridge with
// host-local addresses in the node's own flannel subnet. It stands in for flannel's CNI plugin
// (github.com/flannel-io/cni-plugin), which the Go module proxy does not serve; flanneld's host-gw backend routes
// every other node's subnet. It runs beside flanneld in the DaemonSet and rewrites the file when the subnet
// changes; -check exits 0 only when the file matches (the container's readiness probe).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func readEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if key, value, ok := strings.Cut(strings.TrimSpace(scanner.Text()), "="); ok {
			env[key] = value
		}
	}
	return env, scanner.Err()
}

// conflist is the node image's bridge configuration (tools/kind/node/10-gameday-bridge.conflist) with the node's
// flannel subnet instead of the single-node one.
func conflist(env map[string]string) ([]byte, error) {
	_, subnet, err := net.ParseCIDR(env["FLANNEL_SUBNET"])
	if err != nil {
		return nil, fmt.Errorf("FLANNEL_SUBNET %q: %w", env["FLANNEL_SUBNET"], err)
	}
	bridge := map[string]any{
		"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
		"ipam": map[string]any{
			"type":   "host-local",
			"ranges": [][]map[string]string{{{"subnet": subnet.String()}}},
			"routes": []map[string]string{{"dst": "0.0.0.0/0"}},
		},
	}
	if mtu, err := strconv.Atoi(env["FLANNEL_MTU"]); err == nil && mtu > 0 {
		bridge["mtu"] = mtu
	}
	doc := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "gameday",
		"plugins": []any{
			bridge,
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
			map[string]any{"type": "loopback"},
		},
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	return append(out, '\n'), err
}

func want(subnetEnv string) ([]byte, error) {
	env, err := readEnv(subnetEnv)
	if err != nil {
		return nil, err
	}
	return conflist(env)
}

func write(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path) // the runtime never reads half a file
}

func main() {
	subnetEnv := flag.String("subnet-env", "/run/flannel/subnet.env", "flanneld's subnet file")
	out := flag.String("out", "/etc/cni/net.d/10-gameday-bridge.conflist", "the CNI configuration to write")
	check := flag.Bool("check", false, "exit 0 when the configuration matches the subnet, 1 otherwise")
	every := flag.Duration("every", 2*time.Second, "how often to look at the subnet file")
	flag.Parse()
	if *check {
		data, err := want(*subnetEnv)
		current, readErr := os.ReadFile(*out)
		if err != nil || readErr != nil || string(data) != string(current) {
			os.Exit(1)
		}
		return
	}
	for {
		data, err := want(*subnetEnv)
		if err == nil {
			current, _ := os.ReadFile(*out)
			if string(current) != string(data) {
				if err := write(*out, data); err != nil {
					fmt.Fprintln(os.Stderr, "flannel-conf:", err)
				} else {
					fmt.Printf("flannel-conf: %s written from %s\n", *out, *subnetEnv)
				}
			}
		} else if !os.IsNotExist(err) {
			fmt.Fprintln(os.Stderr, "flannel-conf:", err)
		}
		time.Sleep(*every)
	}
}
