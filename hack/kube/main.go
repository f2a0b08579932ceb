// Command closedpaw-kube is one multi-call binary holding the upstream Kubernetes
// components ClosedPaw's tests run for real: kube-apiserver, etcd, kubectl,
// kube-controller-manager, kube-scheduler, and the node's kubelet and kube-proxy. The component is chosen by the
// first argument, or by the name the binary was invoked as (a symlink).
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	_ "time/tzdata"

	"github.com/spf13/cobra"
	"go.etcd.io/etcd/server/v3/etcdmain"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	kubectl "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

var components = map[string]func(args []string) int{
	"kube-apiserver": func(args []string) int {
		return runCobra(apiserver.NewAPIServerCommand(), args)
	},
	"kube-controller-manager": func(args []string) int {
		return runCobra(controllermanager.NewControllerManagerCommand(), args)
	},
	"kube-scheduler": func(args []string) int {
		return runCobra(scheduler.NewSchedulerCommand(), args)
	},
	"etcd": func(args []string) int {
		etcdmain.Main(append([]string{"etcd"}, args...))
		return 0
	},
	"kubectl": runKubectl,
	"kubelet": func(args []string) int {
		return runCobra(kubelet.NewKubeletCommand(context.Background()), args)
	},
	"kube-proxy": func(args []string) int {
		return runCobra(proxy.NewProxyCommand(), args)
	},
}

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if _, ok := components[name]; !ok {
		if len(args) == 0 || components[args[0]] == nil {
			fmt.Fprintln(os.Stderr, "usage: closedpaw-kube {kube-apiserver|etcd|kubectl|kube-controller-manager|kube-scheduler|kubelet|kube-proxy} [flags]")
			os.Exit(2)
		}
		name, args = args[0], args[1:]
	}
	os.Exit(components[name](args))
}

func runCobra(command *cobra.Command, args []string) int {
	os.Args = append([]string{command.Name()}, args...)
	command.SetArgs(args)
	return cli.Run(command)
}

func runKubectl(args []string) int {
	os.Args = append([]string{"kubectl"}, args...)
	logs.GlogSetter(kubectl.GetLogVerbosity(os.Args)) // nolint:errcheck
	command := kubectl.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		kubectlutil.CheckErr(err)
	}
	return 0
}
