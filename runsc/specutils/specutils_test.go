package specutils

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadErrorsNameTheProblem(t *testing.T) {
	good := `{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["/bin/true"],"cwd":"/"}}`
	for _, tc := range []struct {
		name, config string
		rootfs       bool
		want         string
	}{
		{"no config.json", "", true, "has no config.json"},
		{"invalid JSON", "{", true, "not a valid OCI runtime configuration"},
		{"wrong field type", `{"root":{"path":5}}`, true, "not a valid OCI runtime configuration"},
		{"missing rootfs", good, false, "root filesystem"},
		{"no process", `{"root":{"path":"rootfs"}}`, true, "process is not set"},
		{"empty args", `{"root":{"path":"rootfs"},"process":{"args":[],"cwd":"/"}}`, true, "process.args is empty"},
		{"relative cwd", `{"root":{"path":"rootfs"},"process":{"args":["x"],"cwd":"tmp"}}`, true, "not an absolute path"},
		{"relative mount", `{"root":{"path":"rootfs"},"process":{"args":["x"],"cwd":"/"},"mounts":[{"destination":"tmp","type":"tmpfs"}]}`, true, "mounts[0].destination"},
		{"good", good, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.config != "" {
				os.WriteFile(filepath.Join(dir, "config.json"), []byte(tc.config), 0o644)
			}
			if tc.rootfs {
				os.Mkdir(filepath.Join(dir, "rootfs"), 0o755)
			}
			_, err := Load(dir)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Load: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestValidateID(t *testing.T) {
	for id, ok := range map[string]bool{"web-1": true, "a.b_c+d": true, "": false, "a/b": false, "..": false, "x y": false} {
		if err := ValidateID(id); (err == nil) != ok {
			t.Errorf("ValidateID(%q) = %v", id, err)
		}
	}
}

// TestPodSandbox: which annotations put a container in a pod's sandbox.
func TestPodSandbox(t *testing.T) {
	for _, c := range []struct {
		name string
		ann  map[string]string
		want string
		err  bool
	}{
		{"no annotations", nil, "", false},
		{"containerd sandbox", map[string]string{CRIContainerType: "sandbox", CRISandboxID: "p"}, "", false},
		{"containerd container", map[string]string{CRIContainerType: "container", CRISandboxID: "p"}, "p", false},
		{"cri-o sandbox", map[string]string{CRIOContainerType: "sandbox"}, "", false},
		{"cri-o container", map[string]string{CRIOContainerType: "container", CRIOSandboxID: "q"}, "q", false},
		{"a sandbox ID alone", map[string]string{CRISandboxID: "p"}, "", false},
		{"container without sandbox ID", map[string]string{CRIContainerType: "container"}, "", true},
		{"unknown type", map[string]string{CRIOContainerType: "podling", CRIOSandboxID: "q"}, "", true},
	} {
		got, err := PodSandbox(c.ann)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("%s: got %q, %v; want %q, error %v", c.name, got, err, c.want, c.err)
		}
	}
}
