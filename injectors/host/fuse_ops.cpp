// The passthrough request handlers of FuseFs: each does the request on the real file underneath (through the
// inode's O_PATH descriptor, or the open file's descriptor), after fault_for has had its say. Modelled on
// libfuse's example/passthrough_ll.c, without xattrs, locks or readdirplus.
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "injectors/host/fuse_fs_state.hpp"

namespace rebound {

namespace {

FuseFsState& fs(fuse_req_t req) { return *static_cast<FuseFsState*>(fuse_req_userdata(req)); }

std::string proc_path(int fd) { return fmt::format("/proc/self/fd/{}", fd); }

std::string child_rel(const FuseInode& parent, const char* name) {
  return parent.rel.empty() ? std::string(name) : parent.rel + "/" + name;
}

// Looks `name` up under `parent` and fills `e`; 0 or an errno.
int do_lookup(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_entry_param& e) {
  auto& state = fs(req);
  FuseInode& dir = inode_of(req, parent);
  std::memset(&e, 0, sizeof e);
  e.attr_timeout = e.entry_timeout = state.attr_timeout;
  int fd = ::openat(dir.fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno;
  if (::fstatat(fd, "", &e.attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    int err = errno;
    ::close(fd);
    return err;
  }
  std::lock_guard lock(state.inodes_mutex);
  auto& slot = state.inodes[{e.attr.st_dev, e.attr.st_ino}];
  if (slot) {
    ::close(fd);
  } else {
    slot = std::make_unique<FuseInode>();
    slot->fd = fd;
    slot->dev = e.attr.st_dev;
    slot->ino = e.attr.st_ino;
    slot->rel = child_rel(dir, name);
  }
  ++slot->nlookup;
  e.ino = reinterpret_cast<fuse_ino_t>(slot.get());
  return 0;
}

void forget_one(FuseFsState& state, fuse_ino_t ino, uint64_t n) {
  if (ino == FUSE_ROOT_ID) return;
  std::lock_guard lock(state.inodes_mutex);
  auto* inode = reinterpret_cast<FuseInode*>(ino);
  inode->nlookup -= std::min(n, inode->nlookup);
  if (inode->nlookup == 0) {
    ::close(inode->fd);
    state.inodes.erase({inode->dev, inode->ino});
  }
}

// A new entry made as root belongs to the caller, as it would without the mount.
void give_to_caller(fuse_req_t req, int dirfd, const char* name) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  (void)::fchownat(dirfd, name, ctx->uid, ctx->gid, AT_SYMLINK_NOFOLLOW);
}

void reply_entry_after(fuse_req_t req, fuse_ino_t parent, const char* name, int res) {
  if (res != 0) return (void)fuse_reply_err(req, errno);
  give_to_caller(req, inode_of(req, parent).fd, name);
  fuse_entry_param e;
  if (int err = do_lookup(req, parent, name, e)) return (void)fuse_reply_err(req, err);
  fuse_reply_entry(req, &e);
}

void op_init(void*, fuse_conn_info* conn) {
  if (conn->capable & FUSE_CAP_SPLICE_WRITE) conn->want |= FUSE_CAP_SPLICE_WRITE;
  if (conn->capable & FUSE_CAP_SPLICE_MOVE) conn->want |= FUSE_CAP_SPLICE_MOVE;
  if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA) conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_WRITEBACK_CACHE);  // each write reaches us, to be faulted
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  fuse_entry_param e;
  if (int err = do_lookup(req, parent, name, e)) return (void)fuse_reply_err(req, err);
  fuse_reply_entry(req, &e);
}

void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t n) {
  forget_one(fs(req), ino, n);
  fuse_reply_none(req);
}

void op_forget_multi(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) forget_one(fs(req), forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  FuseInode& inode = inode_of(req, ino);
  if (int err = fault_for(req, FileOp::stat, inode)) return (void)fuse_reply_err(req, err);
  struct stat st {};
  if (::fstatat(inode.fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return (void)fuse_reply_err(req, errno);
  fuse_reply_attr(req, &st, fs(req).attr_timeout);
}

int set_times(const FuseInode& inode, const struct stat* attr, int valid, fuse_file_info* fi) {
  timespec tv[2] = {attr->st_atim, attr->st_mtim};
  if (!(valid & FUSE_SET_ATTR_ATIME)) tv[0].tv_nsec = UTIME_OMIT;
  else if (valid & FUSE_SET_ATTR_ATIME_NOW) tv[0].tv_nsec = UTIME_NOW;
  if (!(valid & FUSE_SET_ATTR_MTIME)) tv[1].tv_nsec = UTIME_OMIT;
  else if (valid & FUSE_SET_ATTR_MTIME_NOW) tv[1].tv_nsec = UTIME_NOW;
  if (fi) return ::futimens(static_cast<int>(fi->fh), tv);
  return ::utimensat(AT_FDCWD, proc_path(inode.fd).c_str(), tv, 0);
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int valid, fuse_file_info* fi) {
  FuseInode& inode = inode_of(req, ino);
  if (valid & FUSE_SET_ATTR_SIZE)
    if (int err = fault_for(req, FileOp::truncate, inode)) return (void)fuse_reply_err(req, err);
  int res = 0;
  if (valid & FUSE_SET_ATTR_MODE)
    res = fi ? ::fchmod(static_cast<int>(fi->fh), attr->st_mode) : ::chmod(proc_path(inode.fd).c_str(), attr->st_mode);
  if (res == 0 && (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
    res = ::fchownat(inode.fd, "", (valid & FUSE_SET_ATTR_UID) ? attr->st_uid : static_cast<uid_t>(-1),
                     (valid & FUSE_SET_ATTR_GID) ? attr->st_gid : static_cast<gid_t>(-1),
                     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
  if (res == 0 && (valid & FUSE_SET_ATTR_SIZE))
    res = fi ? ::ftruncate(static_cast<int>(fi->fh), attr->st_size) : ::truncate(proc_path(inode.fd).c_str(), attr->st_size);
  if (res == 0 && (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME))) res = set_times(inode, attr, valid, fi);
  if (res != 0) return (void)fuse_reply_err(req, errno);
  struct stat st {};
  if (::fstatat(inode.fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return (void)fuse_reply_err(req, errno);
  fuse_reply_attr(req, &st, fs(req).attr_timeout);
}

void op_readlink(fuse_req_t req, fuse_ino_t ino) {
  char buf[PATH_MAX + 1];
  ssize_t n = ::readlinkat(inode_of(req, ino).fd, "", buf, PATH_MAX);
  if (n < 0) return (void)fuse_reply_err(req, errno);
  buf[n] = 0;
  fuse_reply_readlink(req, buf);
}

void op_mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  FuseInode& dir = inode_of(req, parent);
  if (int err = fault_for(req, FileOp::create, dir, name)) return (void)fuse_reply_err(req, err);
  reply_entry_after(req, parent, name, ::mknodat(dir.fd, name, mode, rdev));
}

void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  FuseInode& dir = inode_of(req, parent);
  if (int err = fault_for(req, FileOp::mkdir, dir, name)) return (void)fuse_reply_err(req, err);
  reply_entry_after(req, parent, name, ::mkdirat(dir.fd, name, mode));
}

void op_symlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  FuseInode& dir = inode_of(req, parent);
  if (int err = fault_for(req, FileOp::create, dir, name)) return (void)fuse_reply_err(req, err);
  reply_entry_after(req, parent, name, ::symlinkat(link, dir.fd, name));
}

void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char* name) {
  FuseInode& dir = inode_of(req, parent);
  if (int err = fault_for(req, FileOp::create, dir, name)) return (void)fuse_reply_err(req, err);
  int res = ::linkat(AT_FDCWD, proc_path(inode_of(req, ino).fd).c_str(), dir.fd, name, AT_SYMLINK_FOLLOW);
  if (res != 0) return (void)fuse_reply_err(req, errno);
  fuse_entry_param e;
  if (int err = do_lookup(req, parent, name, e)) return (void)fuse_reply_err(req, err);
  fuse_reply_entry(req, &e);
}

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  FuseInode& dir = inode_of(req, parent);
  if (int err = fault_for(req, FileOp::unlink, dir, name)) return (void)fuse_reply_err(req, err);
  fuse_reply_err(req, ::unlinkat(dir.fd, name, 0) == 0 ? 0 : errno);
}

void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  FuseInode& dir = inode_of(req, parent);
  if (int err = fault_for(req, FileOp::rmdir, dir, name)) return (void)fuse_reply_err(req, err);
  fuse_reply_err(req, ::unlinkat(dir.fd, name, AT_REMOVEDIR) == 0 ? 0 : errno);
}

void op_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent, const char* newname,
               unsigned int flags) {
  FuseInode& dir = inode_of(req, parent);
  if (int err = fault_for(req, FileOp::rename, dir, name)) return (void)fuse_reply_err(req, err);
  int res = ::renameat2(dir.fd, name, inode_of(req, newparent).fd, newname, flags);
  fuse_reply_err(req, res == 0 ? 0 : errno);
}

// Sets up a descriptor opened for the kernel: a target's files get direct I/O when reads or writes are faulted,
// so that the page cache cannot answer them; other opens keep the page cache of earlier ones.
void reply_opened(fuse_req_t req, int fd, fuse_file_info* fi, const fuse_entry_param* e) {
  auto& state = fs(req);
  fi->fh = static_cast<uint64_t>(fd);
  const auto& ops = state.plan.ops;
  if ((ops[static_cast<size_t>(FileOp::read)] || ops[static_cast<size_t>(FileOp::write)]) && from_target(req))
    fi->direct_io = 1;
  else
    fi->keep_cache = 1;  // the page cache stays across opens; a changed mtime drops it (FUSE_CAP_AUTO_INVAL_DATA)
  ++state.open_handles;
  int res = e ? fuse_reply_create(req, e, fi) : fuse_reply_open(req, fi);
  if (res == -ENOENT) {  // the caller was interrupted
    ::close(fd);
    --state.open_handles;
  }
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  FuseInode& dir = inode_of(req, parent);
  if (int err = fault_for(req, FileOp::create, dir, name)) return (void)fuse_reply_err(req, err);
  int fd = ::openat(dir.fd, name, (fi->flags | O_CREAT | O_CLOEXEC) & ~O_NOFOLLOW, mode);
  if (fd < 0) return (void)fuse_reply_err(req, errno);
  give_to_caller(req, dir.fd, name);
  fuse_entry_param e;
  if (int err = do_lookup(req, parent, name, e)) {
    ::close(fd);
    return (void)fuse_reply_err(req, err);
  }
  reply_opened(req, fd, fi, &e);
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  FuseInode& inode = inode_of(req, ino);
  if (int err = fault_for(req, FileOp::open, inode)) return (void)fuse_reply_err(req, err);
  int fd = ::open(proc_path(inode.fd).c_str(), (fi->flags | O_CLOEXEC) & ~O_NOFOLLOW);
  if (fd < 0) return (void)fuse_reply_err(req, errno);
  reply_opened(req, fd, fi, nullptr);
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  ::close(static_cast<int>(fi->fh));
  --fs(req).open_handles;
  fuse_reply_err(req, 0);
}

void op_flush(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  int res = ::close(::dup(static_cast<int>(fi->fh)));
  fuse_reply_err(req, res == 0 ? 0 : errno);
}

void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
  if (int err = fault_for(req, FileOp::fsync, inode_of(req, ino))) return (void)fuse_reply_err(req, err);
  int fd = static_cast<int>(fi->fh);
  int res = datasync ? ::fdatasync(fd) : ::fsync(fd);
  fuse_reply_err(req, res == 0 ? 0 : errno);
}

void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi) {
  if (int err = fault_for(req, FileOp::read, inode_of(req, ino))) return (void)fuse_reply_err(req, err);
  fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
  buf.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
  buf.buf[0].fd = static_cast<int>(fi->fh);
  buf.buf[0].pos = offset;
  fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

void op_write_buf(fuse_req_t req, fuse_ino_t ino, fuse_bufvec* in, off_t offset, fuse_file_info* fi) {
  if (int err = fault_for(req, FileOp::write, inode_of(req, ino))) return (void)fuse_reply_err(req, err);
  fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
  out.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
  out.buf[0].fd = static_cast<int>(fi->fh);
  out.buf[0].pos = offset;
  ssize_t n = fuse_buf_copy(&out, in, static_cast<fuse_buf_copy_flags>(0));
  if (n < 0) return (void)fuse_reply_err(req, static_cast<int>(-n));
  fuse_reply_write(req, static_cast<size_t>(n));
}

void op_statfs(fuse_req_t req, fuse_ino_t ino) {
  struct statvfs s {};
  if (::fstatvfs(inode_of(req, ino).fd, &s) != 0) return (void)fuse_reply_err(req, errno);
  fuse_reply_statfs(req, &s);
}

void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length, fuse_file_info* fi) {
  if (int err = fault_for(req, FileOp::write, inode_of(req, ino))) return (void)fuse_reply_err(req, err);
  fuse_reply_err(req, ::fallocate(static_cast<int>(fi->fh), mode, offset, length) == 0 ? 0 : errno);
}

}  // namespace

void fuse_readdir_ops(fuse_lowlevel_ops& ops);  // fuse_dir_ops.cpp

const fuse_lowlevel_ops& passthrough_ops() {
  static const fuse_lowlevel_ops ops = [] {
    fuse_lowlevel_ops o{};
    o.init = op_init;
    o.lookup = op_lookup;
    o.forget = op_forget;
    o.forget_multi = op_forget_multi;
    o.getattr = op_getattr;
    o.setattr = op_setattr;
    o.readlink = op_readlink;
    o.mknod = op_mknod;
    o.mkdir = op_mkdir;
    o.symlink = op_symlink;
    o.link = op_link;
    o.unlink = op_unlink;
    o.rmdir = op_rmdir;
    o.rename = op_rename;
    o.create = op_create;
    o.open = op_open;
    o.release = op_release;
    o.flush = op_flush;
    o.fsync = op_fsync;
    o.read = op_read;
    o.write_buf = op_write_buf;
    o.statfs = op_statfs;
    o.fallocate = op_fallocate;
    fuse_readdir_ops(o);
    return o;
  }();
  return ops;
}

}  // namespace rebound
