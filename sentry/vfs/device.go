package vfs

import "golang.org/x/sys/unix"

// Device is a device driver: what opening a device node of its number gives.
type Device interface {
	Open(flags int) (FileImpl, error)
}

// DeviceMaker is a directory that can hold device nodes (mknod(2) of a character or
// block device); a filesystem whose directories are not DeviceMakers refuses them
// with EPERM.
type DeviceMaker interface {
	Mknod(name string, mode uint32, rdev uint64, owner Owner) (Inode, error)
}

// devKey names a device: its kind (S_IFCHR or S_IFBLK) and number.
type devKey struct {
	kind uint32
	rdev uint64
}

// RegisterDevice makes d the driver of the device kind (unix.S_IFCHR or
// unix.S_IFBLK) major:minor, replacing any earlier one.
func (v *VFS) RegisterDevice(kind, major, minor uint32, d Device) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.devices == nil {
		v.devices = map[devKey]Device{}
	}
	v.devices[devKey{kind, unix.Mkdev(major, minor)}] = d
}

// OpenDevice opens the device kind rdev, as a device node of that number opens: ENXIO
// when the Sentry has no driver for it (chrdev_open, blkdev_open), which is what a
// node made for a host device (a spec's linux.devices, mknod) gives.
func (v *VFS) OpenDevice(kind uint32, rdev uint64, flags int) (FileImpl, error) {
	v.mu.Lock()
	d := v.devices[devKey{kind, rdev}]
	v.mu.Unlock()
	if d == nil {
		return nil, unix.ENXIO
	}
	return d.Open(flags)
}
