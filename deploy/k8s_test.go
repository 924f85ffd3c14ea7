// Package deploy_test checks the deployment files of deploy/: the
// Kubernetes example, decoded into the Kubernetes API's own types with
// unknown fields refused. (The Prometheus rules and the Grafana dashboard
// are checked against a running service, in cmd/countersign.)
package deploy_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// manifests decodes every document of deploy/k8s/*.yaml strictly: a
// misspelt or misplaced field fails, as kubectl --validate=strict would.
func manifests(t *testing.T) (deps []*appsv1.Deployment, svcs []*corev1.Service, secrets map[string]*corev1.Secret) {
	t.Helper()
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	secrets = map[string]*corev1.Secret{}
	for _, f := range files {
		buf, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(buf), -1) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s #%d: %v", f, i, err)
			}
			var obj interface{ GetName() string }
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 Deployment":
				d := &appsv1.Deployment{}
				deps, obj = append(deps, d), d
			case "v1 Service":
				s := &corev1.Service{}
				svcs, obj = append(svcs, s), s
			case "v1 Secret":
				obj = &corev1.Secret{}
			case "policy/v1 PodDisruptionBudget":
				obj = &policyv1.PodDisruptionBudget{}
			default:
				t.Fatalf("%s #%d: unexpected %s %s", f, i, tm.APIVersion, tm.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s #%d (%s): %v", f, i, tm.Kind, err)
			}
			if s, ok := obj.(*corev1.Secret); ok {
				secrets[s.Name] = s
			}
			if errs := validation.IsDNS1123Subdomain(obj.GetName()); len(errs) > 0 {
				t.Errorf("%s #%d: name %q: %v", f, i, obj.GetName(), errs)
			}
		}
	}
	return deps, svcs, secrets
}

// TestKubernetesExample holds the example to what docs/OPERATIONS.md
// promises: probes on /readyz and /healthz, a non-root user on a read-only
// root file system without capabilities, the keys from a Secret mounted
// read-only, the database URL from a Secret, a volume for the data
// directory, a Service that selects the pods, and only settings the
// service has (README's Configuration table).
func TestKubernetesExample(t *testing.T) {
	t.Parallel()
	deps, svcs, secrets := manifests(t)
	if len(deps) != 1 || len(svcs) != 1 {
		t.Fatalf("%d deployments, %d services", len(deps), len(svcs))
	}
	d, svc := deps[0], svcs[0]
	pod := d.Spec.Template.Spec
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Labels[k] != v || svc.Spec.Selector[k] != v {
			t.Errorf("label %s=%s: the selector, the pods and the service disagree", k, v)
		}
	}
	if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 65532 {
		t.Errorf("pod security context %+v: want runAsNonRoot as 65532, the image's user", sc)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("container security context %+v", sc)
	}
	probe := func(name string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe %+v, want GET %s on the http port", name, p, path)
		}
	}
	probe("readiness", c.ReadinessProbe, "/readyz")
	probe("liveness", c.LivenessProbe, "/healthz")
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("ports %+v, service %+v", c.Ports, svc.Spec.Ports)
	}

	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
		if !bytes.Contains(readme, []byte("| `"+e.Name+"` |")) && !bytes.Contains(readme, []byte("`"+e.Name+"`")) {
			t.Errorf("env %s is no setting in README's Configuration table", e.Name)
		}
		if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
			s := secrets[ref.SecretKeyRef.Name]
			if s == nil {
				t.Errorf("env %s reads Secret %s, which is not in the example", e.Name, ref.SecretKeyRef.Name)
			} else if _, ok := s.StringData[ref.SecretKeyRef.Key]; !ok {
				t.Errorf("env %s reads key %s, which Secret %s lacks", e.Name, ref.SecretKeyRef.Key, s.Name)
			}
		}
	}
	if db := env["DATABASE_URL"]; db.ValueFrom == nil || db.ValueFrom.SecretKeyRef == nil || db.Value != "" {
		t.Error("DATABASE_URL must come from a Secret")
	}
	if k := env["OPENAI_API_KEY"]; k.ValueFrom == nil || k.ValueFrom.SecretKeyRef == nil || k.Value != "" {
		t.Error("OPENAI_API_KEY must come from a Secret")
	}

	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m
	}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	keys, ok := mounts["/keys"]
	if !ok || !keys.ReadOnly || vols[keys.Name].Secret == nil {
		t.Fatalf("the keys must be a Secret mounted read-only at /keys: %+v", keys)
	}
	ks := secrets[vols[keys.Name].Secret.SecretName]
	for _, file := range []string{"countersign-audit.key", "countersign-event.key"} {
		if ks == nil || ks.StringData[file] == "" {
			t.Errorf("the keys Secret lacks %s", file)
		}
		if !strings.HasPrefix(env["COUNTERSIGN_AUDIT_KEY"].Value, "/keys/") || !strings.HasPrefix(env["COUNTERSIGN_EVENT_KEY"].Value, "/keys/") {
			t.Errorf("the key settings do not point into /keys")
		}
	}
	if m := vols[keys.Name].Secret.DefaultMode; m == nil || *m&0o077&^0o040 != 0 {
		t.Errorf("the keys' mode %o: readable by the group at most", *m)
	}
	if data, ok := mounts["/data"]; !ok || data.ReadOnly {
		t.Error("no writable volume at /data, the image's data directory")
	}
}
