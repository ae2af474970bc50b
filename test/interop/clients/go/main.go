// Real-client probe: Go azidentity gets tokens the way an app would, from the environment it was given.
//
//	azidentity-probe <default|managed|workload> <scope> [<scope>…]
//
// The result goes to file descriptor 3 as one JSON object, never to stdout or stderr (those are
// logs, audited for secrets): {"results":[{"scope","token","expiresOnTimestamp","version"}]}
// (milliseconds, like the JavaScript clients) or {"error":{"name","message"}}.
//
// azidentity's IMDS address is fixed (169.254.169.254, no override variable). When
// INTEROP_IMDS_REWRITE=http://127.0.0.1:PORT is set, a transport sends requests for that host
// there instead: the only change to what a pod's app would do, and it touches nothing else.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

const imdsHost = "169.254.169.254"

type result struct {
	Scope              string `json:"scope"`
	Token              string `json:"token"`
	ExpiresOnTimestamp int64  `json:"expiresOnTimestamp"`
	Version            string `json:"version"`
}

type failure struct {
	Name    string `json:"name"`
	Message string `json:"message"`
}

func report(v any) {
	out := os.NewFile(3, "result")
	_ = json.NewEncoder(out).Encode(v)
	_ = out.Close()
}

// rewritingTransport sends requests for the fixed IMDS host to another address.
type rewritingTransport struct {
	target *url.URL
	client *http.Client
}

func (t rewritingTransport) Do(req *http.Request) (*http.Response, error) {
	if req.URL.Hostname() == imdsHost {
		req = req.Clone(req.Context())
		req.URL.Scheme = t.target.Scheme
		req.URL.Host = t.target.Host
		req.Host = t.target.Host
	}
	return t.client.Do(req)
}

func clientOptions() (azcore.ClientOptions, error) {
	o := azcore.ClientOptions{}
	if target := os.Getenv("INTEROP_IMDS_REWRITE"); target != "" {
		u, err := url.Parse(target)
		if err != nil {
			return o, fmt.Errorf("INTEROP_IMDS_REWRITE %q is not a URL: %w", target, err)
		}
		o.Transport = rewritingTransport{target: u, client: &http.Client{Timeout: 60 * time.Second}}
	}
	return o, nil
}

func version() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == "github.com/Azure/azure-sdk-for-go/sdk/azidentity" {
				return d.Version
			}
		}
	}
	return "unknown"
}

func credential(kind string) (azcore.TokenCredential, error) {
	co, err := clientOptions()
	if err != nil {
		return nil, err
	}
	switch kind {
	case "default":
		return azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: co})
	case "managed":
		o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: co}
		if id := os.Getenv("AZURE_CLIENT_ID"); id != "" {
			o.ID = azidentity.ClientID(id)
		}
		return azidentity.NewManagedIdentityCredential(o)
	case "workload":
		// instance discovery would ask login.microsoftonline.com about the emulator's host
		return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: true})
	}
	return nil, fmt.Errorf("unknown credential kind %s: use default, managed or workload", kind)
}

func errorName(err error) string {
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) {
		return "AuthenticationFailedError"
	}
	return fmt.Sprintf("%T", err)
}

func main() {
	if len(os.Args) < 3 {
		report(map[string]any{"error": failure{"Usage", "azidentity-probe <default|managed|workload> <scope>…"}})
		os.Exit(2)
	}
	cred, err := credential(os.Args[1])
	if err == nil {
		results := []result{}
		for _, scope := range os.Args[2:] {
			var t azcore.AccessToken
			t, err = cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{scope}})
			if err != nil {
				break
			}
			results = append(results, result{scope, t.Token, t.ExpiresOn.UnixMilli(), version()})
		}
		if err == nil {
			report(map[string]any{"results": results})
			return
		}
	}
	report(map[string]any{"error": failure{errorName(err), err.Error()}})
	os.Exit(2)
}
