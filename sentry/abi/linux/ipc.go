package linux

// SysV IPC (include/uapi/linux/ipc.h, shm.h, sem.h) beyond what x/sys/unix has.
const (
	IPC_INFO = 3

	// shmat flags.
	SHM_REMAP = 0o40000
	SHM_EXEC  = 0o100000
	// shmctl commands.
	SHM_LOCK     = 11
	SHM_UNLOCK   = 12
	SHM_STAT     = 13
	SHM_INFO     = 14
	SHM_STAT_ANY = 15
	// shm_perm.mode flags.
	SHM_DEST   = 0o1000
	SHM_LOCKED = 0o2000
	// Limits (SHMMIN, SHMMNI, SHMMAX and SHMALL, which are also the defaults of
	// /proc/sys/kernel/shm*).
	SHMMIN = 1
	SHMMNI = 4096
	SHMMAX = ^uint64(0) - 1<<24
	SHMALL = ^uint64(0) - 1<<24
	SHMLBA = 4096

	// semop flags and semctl commands.
	SEM_UNDO     = 0x1000
	GETPID       = 11
	GETVAL       = 12
	GETALL       = 13
	GETNCNT      = 14
	GETZCNT      = 15
	SETVAL       = 16
	SETALL       = 17
	SEM_STAT     = 18
	SEM_INFO     = 19
	SEM_STAT_ANY = 20
	// Limits (the defaults of /proc/sys/kernel/sem).
	SEMMSL = 32000
	SEMMNI = 32000
	SEMMNS = SEMMNI * SEMMSL
	SEMOPM = 500
	SEMVMX = 32767
	SEMAEM = SEMVMX
	SEMMAP = SEMMNS
	SEMMNU = SEMMNS
	SEMUME = SEMOPM
	SEMUSZ = 20
)

// IPC64Perm is struct ipc64_perm on x86-64, padded as the C struct is (x/sys/unix's
// SysvIpcPerm leaves the padding implicit, which encoding/binary drops).
type IPC64Perm struct {
	Key                  int32
	UID, GID, CUID, CGID uint32
	Mode                 uint32
	Seq                  uint16
	_                    uint16
	_                    uint32
	_                    [2]uint64
}

// ShmidDS is struct shmid64_ds on x86-64.
type ShmidDS struct {
	Perm                IPC64Perm
	Segsz               uint64
	Atime, Dtime, Ctime int64
	Cpid, Lpid          int32
	Nattch              uint64
	_                   [2]uint64
}

// ShmInfo64 is struct shminfo64, IPC_INFO's result for shmctl.
type ShmInfo64 struct {
	Shmmax, Shmmin, Shmmni, Shmseg, Shmall uint64
	_                                      [4]uint64
}

// ShmInfo is struct shm_info, SHM_INFO's result.
type ShmInfo struct {
	UsedIDs                                             int32
	_                                                   int32
	ShmTot, ShmRss, ShmSwp, SwapAttempts, SwapSuccesses uint64
}

// SemidDS is struct semid64_ds on x86-64.
type SemidDS struct {
	Perm     IPC64Perm
	Otime, _ int64
	Ctime, _ int64
	Nsems    uint64
	_, _     uint64
}

// Sembuf is struct sembuf, one semop operation.
type Sembuf struct {
	Num uint16
	Op  int16
	Flg int16
}

// Seminfo is struct seminfo, IPC_INFO's and SEM_INFO's result for semctl.
type Seminfo struct {
	Semmap, Semmni, Semmns, Semmnu, Semmsl, Semopm, Semume, Semusz, Semvmx, Semaem int32
}

// Message queues (include/uapi/linux/msg.h).
const (
	MSG_STAT     = 11
	MSG_INFO     = 12
	MSG_STAT_ANY = 13
	MSG_NOERROR  = 0o10000
	MSG_EXCEPT   = 0o20000
	MSG_COPY     = 0o40000
	// Limits (the defaults of /proc/sys/kernel/msg*).
	MSGMNI  = 32000
	MSGMAX  = 8192
	MSGMNB  = 16384
	MSGPOOL = MSGMNI * MSGMNB / 1024
	MSGMAP  = MSGMNB
	MSGTQL  = MSGMNB
	MSGSSZ  = 16
	MSGSEG  = 0xffff
)

// MsqidDS is struct msqid64_ds on x86-64.
type MsqidDS struct {
	Perm                 IPC64Perm
	Stime, Rtime, Ctime  int64
	Cbytes, Qnum, Qbytes uint64
	Lspid, Lrpid         int32
	_                    [2]uint64
}

// Msginfo is struct msginfo, IPC_INFO's and MSG_INFO's result for msgctl.
type Msginfo struct {
	Msgpool, Msgmap, Msgmax, Msgmnb, Msgmni, Msgssz, Msgtql int32
	Msgseg                                                  uint16
	_                                                       uint16
}
