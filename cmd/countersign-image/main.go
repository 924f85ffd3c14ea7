// Command countersign-image builds Countersign's container image without a
// Docker daemon, with go-containerregistry: the static countersign binary
// (CGO_ENABLED=0) on an empty base, an /etc/passwd naming the non-root user
// 65532, the CA certificates of the build machine for HTTPS model
// endpoints, and nothing else: no shell, no package manager. The image runs
// `countersign serve` as that user, keeps its database in the volume /data
// and its keys in /keys, and works on a read-only root file system. It is
// written as an image tarball that `docker load`, `podman load`, `crane
// push` and `skopeo copy docker-archive:…` read.
//
//	go run ./cmd/countersign-image --out countersign-image.tar [--tag registry.example/countersign:1.0.0]
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The image's fixed facts; the test and deploy/k8s name them too.
const (
	UID        = 65532
	BinaryPath = "/usr/local/bin/countersign"
	DataDir    = "/data"
	KeysDir    = "/keys"
)

// Options are the image's inputs.
type Options struct {
	// Binary is a countersign binary built with CGO_ENABLED=0; empty
	// builds one from Source.
	Binary string
	// Source is the module's root, where ./cmd/countersign is built.
	Source  string
	Tag     string
	Version string
	// Revision is the source's commit, for the image's labels.
	Revision string
	// CACerts is the CA bundle copied in; empty for none.
	CACerts string
	Arch    string
}

func main() {
	var o Options
	out := flag.String("out", "countersign-image.tar", "the image tarball to write")
	flag.StringVar(&o.Binary, "binary", "", "a countersign binary built with CGO_ENABLED=0 (default: build ./cmd/countersign)")
	flag.StringVar(&o.Source, "source", ".", "the module's root directory")
	flag.StringVar(&o.Tag, "tag", "countersign:latest", "the image's name in the tarball")
	flag.StringVar(&o.Version, "version", "", "the version label (default: countersign version's)")
	flag.StringVar(&o.CACerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "the CA bundle to copy in, for HTTPS model endpoints (empty: none)")
	flag.StringVar(&o.Arch, "arch", runtime.GOARCH, "the target architecture (GOARCH)")
	flag.Parse()
	if err := Build(*out, o); err != nil {
		fmt.Fprintf(os.Stderr, "countersign-image: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("Wrote %s (%s). Load it with: docker load -i %s (or podman load, crane push %s REGISTRY/countersign:TAG)\n", *out, o.Tag, *out, *out)
}

// Build writes the image tarball to out.
func Build(out string, o Options) error {
	if o.Binary == "" {
		dir, err := os.MkdirTemp("", "countersign-image-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.Binary = filepath.Join(dir, "countersign")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", o.Binary, "./cmd/countersign")
		cmd.Dir, cmd.Env = o.Source, append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+o.Arch)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, b)
		}
	}
	if o.Version == "" {
		o.Version = binaryVersion(o.Binary)
	}
	if o.Revision == "" {
		if b, err := exec.Command("git", "-C", o.Source, "rev-parse", "HEAD").Output(); err == nil {
			o.Revision = strings.TrimSpace(string(b))
		}
	}
	layer, err := rootLayer(o)
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", o.Arch
	// A fixed date: the same inputs make the same image, digest included.
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config.User = fmt.Sprintf("%d:%d", UID, UID)
	cf.Config.Entrypoint = []string{BinaryPath, "serve"}
	cf.Config.Cmd = nil
	cf.Config.WorkingDir = DataDir
	cf.Config.Env = []string{
		"PATH=/usr/local/bin",
		"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
		"DATABASE_URL=" + DataDir + "/countersign.db",
		"COUNTERSIGN_AUDIT_KEY=" + KeysDir + "/countersign-audit.key",
		"COUNTERSIGN_EVENT_KEY=" + KeysDir + "/countersign-event.key",
	}
	cf.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	cf.Config.Volumes = map[string]struct{}{DataDir: {}, KeysDir: {}}
	cf.Config.StopSignal = "SIGTERM"
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":         "countersign",
		"org.opencontainers.image.description":   "AI drafts, humans sign: case-note drafting with a named person's sign-off and a tamper-evident audit log.",
		"org.opencontainers.image.version":       o.Version,
		"org.opencontainers.image.revision":      o.Revision,
		"org.opencontainers.image.documentation": "docs/OPERATIONS.md",
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return err
	}
	ref, err := name.ParseReference(o.Tag)
	if err != nil {
		return fmt.Errorf("tag %q: %w", o.Tag, err)
	}
	tmp := out + ".partial"
	if err := tarball.WriteToFile(tmp, ref, img); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, out)
}

// binaryVersion asks the binary its version, when it runs here.
func binaryVersion(bin string) string {
	b, err := exec.Command(bin, "version").Output()
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) >= 2 {
		return f[1]
	}
	return "unknown"
}

// rootLayer is the image's one layer: the binary, the user and group
// files, the CA bundle, and the data and keys directories owned by the user.
func rootLayer(o Options) (v1.Layer, error) {
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0).UTC()
	dir := func(name string, mode int64, uid int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: uid, Gid: uid, ModTime: epoch})
	}
	file := func(name string, mode int64, body []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: epoch}); err != nil {
			return err
		}
		_, err := tw.Write(body)
		return err
	}
	steps := []func() error{
		func() error { return dir("etc", 0o755, 0) },
		func() error {
			return file("etc/passwd", 0o644, fmt.Appendf(nil, "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:countersign:%s:/sbin/nologin\n", UID, UID, DataDir))
		},
		func() error { return file("etc/group", 0o644, fmt.Appendf(nil, "root:x:0:\nnonroot:x:%d:\n", UID)) },
		func() error { return dir("usr", 0o755, 0) },
		func() error { return dir("usr/local", 0o755, 0) },
		func() error { return dir("usr/local/bin", 0o755, 0) },
		func() error { return file(strings.TrimPrefix(BinaryPath, "/"), 0o755, bin) },
		func() error { return dir(strings.TrimPrefix(DataDir, "/"), 0o700, UID) },
		func() error { return dir(strings.TrimPrefix(KeysDir, "/"), 0o700, UID) },
		func() error { return dir("tmp", 0o1777, 0) },
	}
	if o.CACerts != "" {
		certs, err := os.ReadFile(o.CACerts)
		if err != nil {
			return nil, fmt.Errorf("CA certificates: %w", err)
		}
		steps = append(steps,
			func() error { return dir("etc/ssl", 0o755, 0) },
			func() error { return dir("etc/ssl/certs", 0o755, 0) },
			func() error { return file("etc/ssl/certs/ca-certificates.crt", 0o644, certs) })
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	// The fastest gzip level: the binary compresses little better at the
	// default, which takes several times as long.
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithCompressionLevel(gzip.BestSpeed))
}
