// metrics-server v0.8.0's command (sigs.k8s.io/metrics-server/cmd/metrics-server and its app package, Apache
// License 2.0, The Kubernetes Authors) with one adaptation to the Kubernetes v0.37 libraries this module
// builds it with (the control plane's versions, for build-cache reuse):
//
// v0.8.0's generated OpenAPI definitions are keyed by Go path ("k8s.io/metrics/pkg/apis/metrics/v1beta1.NodeMetrics"),
// while kube-openapi now names a type by its OpenAPIModelName() ("io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics"),
// so the unmodified command panics at start ("cannot find model definition"). canonical() serves the same
// definitions under the REST-friendly names too, with references and dependencies renamed to match.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/pkg/version"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/component-base/logs"
	"k8s.io/component-base/term"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/util"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"sigs.k8s.io/metrics-server/cmd/metrics-server/app/options"
)

func main() {
	logs.InitLogs()
	defer logs.FlushLogs()

	if len(os.Getenv("GOMAXPROCS")) == 0 {
		runtime.GOMAXPROCS(runtime.NumCPU())
	}

	cmd := newMetricsServerCommand(genericapiserver.SetupSignalHandler())
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// newMetricsServerCommand is app.NewMetricsServerCommand of v0.8.0, running runCommand below.
func newMetricsServerCommand(stopCh <-chan struct{}) *cobra.Command {
	opts := options.NewOptions()
	cmd := &cobra.Command{
		Short: "Launch metrics-server",
		Long:  "Launch metrics-server",
		RunE: func(c *cobra.Command, args []string) error {
			return runCommand(opts, stopCh)
		},
	}
	fs := cmd.Flags()
	nfs := opts.Flags()
	for _, f := range nfs.FlagSets {
		fs.AddFlagSet(f)
	}
	local := flag.NewFlagSet(os.Args[0], flag.ExitOnError)
	logs.AddGoFlags(local)
	nfs.FlagSet("logging").AddGoFlagSet(local)

	usageFmt := "Usage:\n  %s\n"
	cols, _, _ := term.TerminalSize(cmd.OutOrStdout())
	cmd.SetUsageFunc(func(cmd *cobra.Command) error {
		fmt.Fprintf(cmd.OutOrStderr(), usageFmt, cmd.UseLine())
		cliflag.PrintSections(cmd.OutOrStderr(), nfs, cols)
		return nil
	})
	cmd.SetHelpFunc(func(cmd *cobra.Command, args []string) {
		fmt.Fprintf(cmd.OutOrStdout(), "%s\n\n"+usageFmt, cmd.Long, cmd.UseLine())
		cliflag.PrintSections(cmd.OutOrStdout(), nfs, cols)
	})
	fs.AddGoFlagSet(local)
	return cmd
}

func runCommand(o *options.Options, stopCh <-chan struct{}) error {
	if o.ShowVersion {
		fmt.Println(version.Get().GitVersion)
		os.Exit(0)
	}
	if errs := o.Validate(); len(errs) > 0 {
		return errs[0]
	}
	config, err := o.ServerConfig()
	if err != nil {
		return err
	}
	if c := config.Apiserver.OpenAPIConfig; c != nil {
		c.GetDefinitions = canonical(c.GetDefinitions)
	}
	if c := config.Apiserver.OpenAPIV3Config; c != nil {
		c.GetDefinitions = canonical(c.GetDefinitions)
		// DefaultOpenAPIV3Config resolved the definitions once already; resolve them again, as it does
		c.Definitions = c.GetDefinitions(func(name string) spec.Ref {
			defName, _ := c.GetDefinitionName(name)
			return spec.MustCreateRef("#/components/schemas/" + common.EscapeJsonPointer(defName))
		})
	}
	s, err := config.Complete()
	if err != nil {
		return err
	}
	return s.RunUntil(stopCh)
}

// friendly is kube-openapi's REST-friendly name of a Go-path name; other names stay as they are.
func friendly(name string) string {
	if !strings.Contains(name, "/") {
		return name
	}
	return util.ToRESTFriendlyName(name)
}

// canonical serves every definition under its REST-friendly name (what OpenAPIModelName() returns) and, for
// types without that method, under its Go-path name as well; references and dependencies use the friendly one.
func canonical(get common.GetOpenAPIDefinitions) common.GetOpenAPIDefinitions {
	return func(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
		defs := get(func(path string) spec.Ref { return ref(friendly(path)) })
		out := make(map[string]common.OpenAPIDefinition, 2*len(defs))
		for name, def := range defs {
			deps := make([]string, len(def.Dependencies))
			for i, dep := range def.Dependencies {
				deps[i] = friendly(dep)
			}
			def.Dependencies = deps
			out[name] = def
			out[friendly(name)] = def
		}
		return out
	}
}
