package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/sqlstore/storetest"
)

// buildBinary builds the countersign command once for the process tests.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "countersign-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "countersign")
	// Static, as the image ships it (cmd/countersign-image builds the
	// same way, sharing the build cache).
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// proc is the real binary running as a child process.
type proc struct {
	cmd    *exec.Cmd
	addr   string
	stdout syncBuffer
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startProc starts `countersign serve` and waits until /readyz answers and,
// with --demo, every token is printed (they come just after the listener
// opens, so a ready service may not have printed them yet; the "Try:" line
// comes last).
func startProc(t *testing.T, bin, addr string, env []string, logs *syncBuffer, args ...string) *proc {
	t.Helper()
	p := &proc{addr: addr, logs: logs}
	// A short lease: a killed process's drafts are taken over soon. The
	// shutdown timeout only bounds a graceful stop, which has nothing in
	// flight here; it is long so that a busy machine cannot overrun it.
	p.cmd = exec.Command(bin, append([]string{"serve", "--addr", addr, "--lease", "2s", "--shutdown-timeout", "2m"}, args...)...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A test that stops early must not leave the service running.
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	deadline := time.Now().Add(patience)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 && (!slices.Contains(args, "--demo") || strings.Contains(p.stdout.String(), "\nTry:")) {
				return p
			}
		}
		if time.Now().After(deadline) {
			p.cmd.Process.Kill()
			t.Fatalf("service did not become ready: %v\n%s", err, logs.String())
		}
		time.Sleep(pollInterval)
	}
}

// waitUntil polls cond until it holds, failing the test, with what it
// waited for and the service's logs, after patience.
func waitUntil(t *testing.T, what string, logs *syncBuffer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s\n%s", patience, what, logs.String())
		}
		time.Sleep(pollInterval)
	}
}

// accepted is what the service said 2xx to.
type accepted struct {
	mu       sync.Mutex
	notes    map[string]bool
	approved map[string]bool
	drafts   map[string]bool
}

// counts returns how many notes and approvals were accepted so far.
func (a *accepted) counts() (notes, approved int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.notes), len(a.approved)
}

func TestCrashSafety(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := dsn(t)
			dir := t.TempDir()
			// The clients are load generators, faster than the rate limit allows one token.
			env := []string{"DATABASE_URL=" + db, "COUNTERSIGN_AUDIT_KEY=" + filepath.Join(dir, "audit.key"), "COUNTERSIGN_RATE_LIMIT=0",
				"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
			addr := freeAddr(t)
			logs := &syncBuffer{}
			p := startProc(t, bin, addr, env, logs, "--demo")
			worker := demoToken(t, p.stdout.String(), "worker")
			caseID := firstCase(t, addr, worker)
			acc := &accepted{notes: map[string]bool{}, approved: map[string]bool{}, drafts: map[string]bool{}}

			for round := range 3 {
				func() {
					ctx, cancel := context.WithCancel(context.Background())
					var wg sync.WaitGroup
					defer wg.Wait()
					defer cancel() // first: the clients stop, then they are waited for
					for c := range 4 {
						wg.Go(func() { drive(ctx, addr, worker, caseID, fmt.Sprintf("r%dc%d", round, c), acc) })
					}
					// Kill while the clients are busy, at a moment that
					// differs from round to round: once this round has had a
					// random number of notes, and an approval, accepted. What
					// is counted, not the clock, decides, so a slow machine
					// only makes the round longer.
					notes0, approved0 := acc.counts()
					target := 2 + rand.IntN(12)
					waitUntil(t, fmt.Sprintf("round %d: %d notes and an approval accepted", round, target), logs, func() bool {
						notes, approved := acc.counts()
						return notes-notes0 >= target && approved > approved0
					})
					if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
						t.Fatal(err)
					}
					_ = p.cmd.Wait()
				}()
				p = startProc(t, bin, addr, env, logs)
			}
			// Work resumes: every accepted draft leaves queued/generating
			// once the dead processes' leases expire.
			deadline := time.Now().Add(patience)
			for {
				stuck := 0
				acc.mu.Lock()
				ids := make([]string, 0, len(acc.drafts))
				for id := range acc.drafts {
					ids = append(ids, id)
				}
				acc.mu.Unlock()
				for _, id := range ids {
					var d struct {
						Status string `json:"status"`
					}
					if code := getJSON(context.Background(), addr, worker, "/v1/drafts/"+id, &d); code != 200 {
						t.Fatalf("accepted draft %s: status %d after restarts", id, code)
					}
					if d.Status == "queued" || d.Status == "generating" {
						stuck++
					}
				}
				if stuck == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d drafts still queued or generating after %v\n%s", stuck, patience, logs.String())
				}
				time.Sleep(pollInterval)
			}
			var notes struct {
				Notes []struct {
					ID string `json:"id"`
				} `json:"notes"`
			}
			getJSON(context.Background(), addr, worker, "/v1/cases/"+caseID+"/notes", &notes)
			have := map[string]bool{}
			for _, n := range notes.Notes {
				have[n.ID] = true
			}
			for id := range acc.notes {
				if !have[id] {
					t.Errorf("note %s was accepted (201) but is lost", id)
				}
			}
			var rec struct {
				Entries []struct {
					DraftID string `json:"draft_id"`
				} `json:"entries"`
			}
			getJSON(context.Background(), addr, worker, "/v1/cases/"+caseID+"/record", &rec)
			signed := map[string]int{}
			for _, e := range rec.Entries {
				signed[e.DraftID]++
			}
			for id, n := range signed {
				if n != 1 {
					t.Errorf("draft %s signed %d times", id, n)
				}
			}
			for id := range acc.approved {
				if signed[id] != 1 {
					t.Errorf("approval of %s was accepted but is not in the record", id)
				}
			}
			if len(acc.notes) == 0 || len(acc.approved) == 0 {
				t.Fatalf("the clients got too little done to test anything: %d notes, %d approvals", len(acc.notes), len(acc.approved))
			}
			// Graceful stop, then the log verifies with every decision in it.
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := p.cmd.Wait(); err != nil {
				t.Fatalf("SIGTERM: exit %v\n%s", err, logs.String())
			}
			cmd := exec.Command(bin, "audit", "verify", "--quiet")
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.HasPrefix(string(out), "OK: ") {
				t.Fatalf("audit verify: %v\n%s", err, out)
			}
			cmd = exec.Command(bin, "audit", "export")
			cmd.Env = env
			out, err = cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			logged := map[string]bool{}
			sc := bufio.NewScanner(bytes.NewReader(out))
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				var e struct {
					Action    string `json:"action"`
					SubjectID string `json:"subject_id"`
				}
				if json.Unmarshal(sc.Bytes(), &e) == nil && e.Action == "draft.approved" {
					logged[e.SubjectID] = true
				}
			}
			for id := range signed {
				if !logged[id] {
					t.Errorf("decision on %s is not in the audit log", id)
				}
			}
			// Nothing personal or secret in the process logs.
			l := logs.String()
			for _, secret := range []string{worker, "Marie", "Dubois", "Lilas", "06 12 34 56 78", "rent arrears"} {
				if strings.Contains(l, secret) {
					t.Errorf("the service log contains %q", secret)
				}
			}
		})
	}
}

// drive creates notes, requests drafts and approves pending ones until ctx
// ends, recording what the service accepted.
func drive(ctx context.Context, addr, token, caseID, tag string, acc *accepted) {
	driveN(ctx, addr, token, caseID, tag, acc, func() bool { return false })
}

// driveN is drive that also stops when done says so, before each round.
func driveN(ctx context.Context, addr, token, caseID, tag string, acc *accepted, done func() bool) {
	for i := 0; ctx.Err() == nil && !done(); i++ {
		var n struct {
			ID string `json:"id"`
		}
		if postJSON(ctx, addr, token, "/v1/cases/"+caseID+"/notes", fmt.Sprintf(`{"body":"Visit %s-%d: the client asked about the energy fund."}`, tag, i), &n) == 201 {
			acc.mu.Lock()
			acc.notes[n.ID] = true
			acc.mu.Unlock()
		} else {
			continue
		}
		var d struct {
			ID string `json:"id"`
		}
		if postJSON(ctx, addr, token, "/v1/cases/"+caseID+"/drafts", fmt.Sprintf(`{"kind":"summary","note_ids":[%q]}`, n.ID), &d) == 202 {
			acc.mu.Lock()
			acc.drafts[d.ID] = true
			acc.mu.Unlock()
		}
		var q struct {
			Drafts []struct {
				ID string `json:"id"`
			} `json:"drafts"`
		}
		if getJSON(ctx, addr, token, "/v1/review/queue?limit=5", &q) != 200 {
			continue
		}
		for _, pd := range q.Drafts {
			var d struct {
				Content *assistant.Content `json:"content"`
			}
			if getJSON(ctx, addr, token, "/v1/drafts/"+pd.ID, &d) != 200 {
				continue
			}
			if postJSON(ctx, addr, token, "/v1/drafts/"+pd.ID+"/approve", approval(d.Content), nil) == 200 {
				acc.mu.Lock()
				acc.approved[pd.ID] = true
				acc.mu.Unlock()
			}
		}
	}
}

func getJSON(ctx context.Context, addr, token, path string, out any) int {
	return doJSON(ctx, "GET", addr, token, path, "", out)
}

func postJSON(ctx context.Context, addr, token, path, body string, out any) int {
	return doJSON(ctx, "POST", addr, token, path, body, out)
}

func doJSON(ctx context.Context, method, addr, token, path, body string, out any) int {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		// The status line arrived but the body did not: the request may
		// or may not have committed, so it does not count as accepted.
		return 0
	}
	if out != nil && resp.StatusCode < 300 {
		if json.Unmarshal(raw, out) != nil {
			return 0
		}
	}
	return resp.StatusCode
}

func demoToken(t *testing.T, out, role string) string {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == role {
			return f[len(f)-1]
		}
	}
	t.Fatalf("no %s token in:\n%s", role, out)
	return ""
}

func firstCase(t *testing.T, addr, token string) string {
	var cases struct {
		Cases []struct {
			ID string `json:"id"`
		} `json:"cases"`
	}
	if code := getJSON(context.Background(), addr, token, "/v1/cases", &cases); code != 200 || len(cases.Cases) == 0 {
		t.Fatalf("cases: %d %+v", code, cases)
	}
	return cases.Cases[0].ID
}
