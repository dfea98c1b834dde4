// Package specutils reads and checks an OCI bundle's config.json, so that every problem
// with a bundle is reported, naming it, before anything is started.
package specutils

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// validID is what runc accepts as a container ID.
var validID = regexp.MustCompile(`^[\w+\-.]+$`)

// ValidateID checks a container ID as runc does.
func ValidateID(id string) error {
	if id == "" {
		return errors.New("container id cannot be empty")
	}
	if !validID.MatchString(id) || id == "." || id == ".." {
		return fmt.Errorf("invalid container id %q: it may hold only letters, digits, '+', '-', '.' and '_'", id)
	}
	return nil
}

// Bundle is a loaded bundle.
type Bundle struct {
	Dir    string // absolute
	Spec   *specs.Spec
	Rootfs string // absolute path of the root filesystem
}

// Load reads and checks the bundle at dir (relative paths are relative to the working
// directory).
func Load(dir string) (*Bundle, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(abs, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("bundle %s has no config.json", abs)
		}
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("%s is not a valid OCI runtime configuration: %w", path, err)
	}
	b := &Bundle{Dir: abs, Spec: &spec}
	if err := b.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

func (b *Bundle) check() error {
	s := b.Spec
	if s.Root == nil || s.Root.Path == "" {
		return errors.New("root.path is not set")
	}
	b.Rootfs = s.Root.Path
	if !filepath.IsAbs(b.Rootfs) {
		b.Rootfs = filepath.Join(b.Dir, b.Rootfs)
	}
	fi, err := os.Stat(b.Rootfs)
	if err != nil {
		return fmt.Errorf("root filesystem %s: %w", b.Rootfs, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("root filesystem %s is not a directory", b.Rootfs)
	}
	if s.Process == nil {
		return errors.New("process is not set")
	}
	if len(s.Process.Args) == 0 {
		return errors.New("process.args is empty")
	}
	if s.Process.Cwd == "" || !filepath.IsAbs(s.Process.Cwd) {
		return fmt.Errorf("process.cwd %q is not an absolute path", s.Process.Cwd)
	}
	for i, m := range s.Mounts {
		if !filepath.IsAbs(m.Destination) {
			return fmt.Errorf("mounts[%d].destination %q is not an absolute path", i, m.Destination)
		}
		if IsBind(m) {
			if _, err := os.Stat(m.Source); err != nil {
				return fmt.Errorf("mounts[%d]: bind source: %w", i, err)
			}
		}
	}
	return nil
}

// IsBind reports whether m is a bind mount.
func IsBind(m specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// HasOption reports whether m has option o.
func HasOption(m specs.Mount, o string) bool {
	for _, x := range m.Options {
		if x == o {
			return true
		}
	}
	return false
}

// The annotations by which Kubernetes' runtimes say which containers make a pod:
// containerd's CRI plugin and CRI-O each name the container's kind (the pod's sandbox,
// its pause container, or a container of the pod) and, for a container, its pod's
// sandbox (the sandbox container's ID).
const (
	CRIContainerType  = "io.kubernetes.cri.container-type"
	CRISandboxID      = "io.kubernetes.cri.sandbox-id"
	CRIOContainerType = "io.kubernetes.cri-o.ContainerType"
	CRIOSandboxID     = "io.kubernetes.cri-o.SandboxID"
)

// The container kinds of the container-type annotations.
const (
	ContainerTypeSandbox   = "sandbox"
	ContainerTypeContainer = "container"
)

// PodSandbox returns the ID of the pod sandbox a container joins, as its annotations
// say (containerd's, else CRI-O's), or "" for a container with a sandbox of its own: one
// with no container type, or the sandbox type. A container type that is neither, or a
// container of a pod without a sandbox ID, is an error naming the annotation.
func PodSandbox(annotations map[string]string) (string, error) {
	for _, k := range [][2]string{{CRIContainerType, CRISandboxID}, {CRIOContainerType, CRIOSandboxID}} {
		typ, ok := annotations[k[0]]
		if !ok {
			continue
		}
		switch typ {
		case ContainerTypeSandbox:
			return "", nil
		case ContainerTypeContainer:
			id := annotations[k[1]]
			if id == "" {
				return "", fmt.Errorf("annotation %s is %q but %s is missing", k[0], typ, k[1])
			}
			return id, nil
		default:
			return "", fmt.Errorf("annotation %s: unknown container type %q (want %q or %q)",
				k[0], typ, ContainerTypeSandbox, ContainerTypeContainer)
		}
	}
	return "", nil
}
