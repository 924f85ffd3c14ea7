package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestImage builds the real binary (CGO_ENABLED=0) and the image tarball,
// then reads the tarball back as a registry would: the entrypoint runs
// countersign serve as the non-root user named in /etc/passwd, the data
// and keys directories are volumes owned by that user, the binary is static,
// nothing in the image is a shell or any other program, and the labels say
// what it is. Building the layer twice gives the same bytes.
func TestImage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "countersign")
	// Built as the process tests of cmd/countersign build it (static, no
	// -trimpath), so the packages come from the same build cache instead
	// of a second full compile; a release build adds -trimpath.
	cmd := exec.Command("go", "build", "-ldflags=-s -w", "-o", bin, "../countersign")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	certs := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(certs, []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := Options{Binary: bin, Source: "../..", Tag: "countersign:test", Version: "1.0.0", Revision: "abc", CACerts: certs, Arch: "amd64"}
	out := filepath.Join(dir, "image.tar")
	if err := Build(out, opts); err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" || !slices.Equal(c.Entrypoint, []string{"/usr/local/bin/countersign", "serve"}) || len(c.Cmd) != 0 {
		t.Errorf("user %q, entrypoint %q, cmd %q", c.User, c.Entrypoint, c.Cmd)
	}
	if _, ok := c.Volumes["/data"]; !ok {
		t.Errorf("volumes %v lack /data", c.Volumes)
	}
	if _, ok := c.Volumes["/keys"]; !ok {
		t.Errorf("volumes %v lack /keys", c.Volumes)
	}
	if !slices.Contains(c.Env, "DATABASE_URL=/data/countersign.db") || !slices.Contains(c.Env, "COUNTERSIGN_AUDIT_KEY=/keys/countersign-audit.key") {
		t.Errorf("env %q", c.Env)
	}
	if c.Labels["org.opencontainers.image.title"] != "countersign" || c.Labels["org.opencontainers.image.version"] != "1.0.0" || c.Labels["org.opencontainers.image.revision"] != "abc" {
		t.Errorf("labels %v", c.Labels)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}

	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]*tar.Header{}
	var binary, passwd []byte
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = h
		switch h.Name {
		case "usr/local/bin/countersign":
			binary, _ = io.ReadAll(tr)
		case "etc/passwd":
			passwd, _ = io.ReadAll(tr)
		}
	}
	for name, h := range files {
		if h.Typeflag == tar.TypeSymlink || h.Typeflag == tar.TypeLink {
			t.Errorf("%s is a link", name)
		}
		if h.Typeflag == tar.TypeReg && h.Mode&0o111 != 0 && name != "usr/local/bin/countersign" {
			t.Errorf("%s is executable: the image holds one program", name)
		}
		if base := filepath.Base(name); slices.Contains([]string{"sh", "bash", "ash", "dash", "busybox"}, base) {
			t.Errorf("the image has a shell: %s", name)
		}
	}
	if !strings.Contains(string(passwd), "nonroot:x:65532:65532:") || strings.Contains(string(passwd), "/bin/sh") {
		t.Errorf("/etc/passwd:\n%s", passwd)
	}
	for _, d := range []string{"data/", "keys/"} {
		if h := files[d]; h == nil || h.Uid != 65532 || h.Mode&0o777 != 0o700 {
			t.Errorf("%s: %+v", d, h)
		}
	}
	if files["etc/ssl/certs/ca-certificates.crt"] == nil {
		t.Error("no CA bundle: HTTPS model endpoints would fail")
	}
	ef, err := elf.NewFile(bytes.NewReader(binary))
	if err != nil {
		t.Fatalf("the binary is no ELF file: %v", err)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary is dynamically linked: it needs a loader the image does not have")
		}
	}

	// The same inputs make the same layer, bit for bit (its digest before
	// compression), and so the same image.
	again, err := rootLayer(opts)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := layers[0].DiffID()
	d2, _ := again.DiffID()
	if d1 != d2 {
		t.Errorf("the same inputs made two layers: %s and %s", d1, d2)
	}
}
