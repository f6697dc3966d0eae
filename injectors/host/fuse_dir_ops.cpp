// Folder listing for FuseFs: opendir, readdir (plain, not readdirplus), releasedir.
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <vector>

#include "injectors/host/fuse_fs_state.hpp"

namespace rebound {

namespace {

struct OpenDir {
  DIR* dp = nullptr;
  off_t offset = 0;
  dirent* entry = nullptr;
};

OpenDir* dir_of(fuse_file_info* fi) { return reinterpret_cast<OpenDir*>(fi->fh); }

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  FuseInode& inode = inode_of(req, ino);
  if (int err = fault_for(req, FileOp::readdir, inode)) return (void)fuse_reply_err(req, err);
  int fd = ::openat(inode.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return (void)fuse_reply_err(req, errno);
  auto* d = new OpenDir;
  d->dp = ::fdopendir(fd);
  if (!d->dp) {
    int err = errno;
    ::close(fd);
    delete d;
    return (void)fuse_reply_err(req, err);
  }
  fi->fh = reinterpret_cast<uint64_t>(d);
  if (fuse_reply_open(req, fi) == -ENOENT) {
    ::closedir(d->dp);
    delete d;
  }
}

void op_readdir(fuse_req_t req, fuse_ino_t, size_t size, off_t offset, fuse_file_info* fi) {
  OpenDir* d = dir_of(fi);
  std::vector<char> buf(size);
  size_t used = 0;
  if (offset != d->offset) {
    ::seekdir(d->dp, offset);
    d->entry = nullptr;
    d->offset = offset;
  }
  while (true) {
    if (!d->entry) {
      errno = 0;
      d->entry = ::readdir(d->dp);
      if (!d->entry) {
        if (errno && used == 0) return (void)fuse_reply_err(req, errno);
        break;
      }
    }
    struct stat st {};
    st.st_ino = d->entry->d_ino;
    st.st_mode = static_cast<mode_t>(d->entry->d_type) << 12;
    off_t next = d->entry->d_off;
    size_t n = fuse_add_direntry(req, buf.data() + used, size - used, d->entry->d_name, &st, next);
    if (n > size - used) break;
    used += n;
    d->entry = nullptr;
    d->offset = next;
  }
  fuse_reply_buf(req, buf.data(), used);
}

void op_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  OpenDir* d = dir_of(fi);
  ::closedir(d->dp);
  delete d;
  fuse_reply_err(req, 0);
}

void op_fsyncdir(fuse_req_t req, fuse_ino_t, int datasync, fuse_file_info* fi) {
  int fd = ::dirfd(dir_of(fi)->dp);
  fuse_reply_err(req, (datasync ? ::fdatasync(fd) : ::fsync(fd)) == 0 ? 0 : errno);
}

}  // namespace

void fuse_readdir_ops(fuse_lowlevel_ops& ops) {
  ops.opendir = op_opendir;
  ops.readdir = op_readdir;
  ops.releasedir = op_releasedir;
  ops.fsyncdir = op_fsyncdir;
}

}  // namespace rebound
