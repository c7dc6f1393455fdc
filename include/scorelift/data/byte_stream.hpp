// scorelift/data/byte_stream.hpp — the decoded bytes of a file that is either plain or gzip-compressed,
// with the file's size on disk known *before* anything is decoded.
//
// A reader that trusts a header's sizes lets a 16-byte file that claims gigabytes allocate gigabytes.
// The size on disk bounds what a file can hold, so a reader checks its header against
// `max_decoded_size()` first and allocates only then:
//   * plain:  exactly file_size() bytes;
//   * gzip:   at most 1032 · file_size() bytes — deflate's largest ratio (a 258-byte match coded in
//             two bits: 258 · 8 / 2 = 1032; zlib's technical notes), so a claim beyond it is corrupt.
// Within that bound a gzip payload can still be far smaller than claimed, so readers grow their
// buffers as bytes arrive (see read_idx_ubyte) rather than trusting the bound either.
//
// gzip is recognised by its magic bytes 1f 8b and inflated here with zlib's inflate (not gzread:
// gzread silently ignores whatever follows the last gzip member). A gzip file may be a series of
// members (RFC 1952 §2.2; `cat a.gz b.gz` and pigz produce them), which are decoded one after the
// other as one stream, as gzip(1) does. Anything else after a member — padding, a second file
// appended by mistake — is refused with its byte offset. A stream that ends inside a member (an
// interrupted download) and corrupt deflate data are refused too.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "scorelift/errors.hpp"

namespace scorelift::data::detail {

class byte_stream {
 public:
  /// deflate's maximum compression ratio: decoded bytes per compressed byte.
  static constexpr std::uint64_t max_deflate_ratio = 1032;

  /// Opens `path`; check is_open() (a missing file is the caller's to report, with its own advice).
  /// `where` names the calling function in every later message.
  byte_stream(const std::string& path, std::string where)
      : path_(path), where_(std::move(where)), file_(std::fopen(path.c_str(), "rb")) {
    if (file_ == nullptr) return;
    std::error_code error;
    const auto status = std::filesystem::status(path, error);
    scorelift::detail::require(!error && std::filesystem::is_regular_file(status), where_, "file '", path_,
                               "' is not a regular file (its size must be known before it is read)");
    file_size_ = static_cast<std::uint64_t>(std::filesystem::file_size(path, error));
    scorelift::detail::require(!error, where_, "cannot read the size of file '", path_, "' (", error.message(), ")");
    unsigned char magic[2] = {0, 0};
    gzip_ = std::fread(magic, 1, 2, file()) == 2 && magic[0] == 0x1F && magic[1] == 0x8B;
    std::rewind(file());
    if (gzip_) {
      buffer_.resize(std::size_t{1} << 16U);  // first: nothing after inflateInit2 may throw (no destructor runs here)
      // 15 + 16: a 32 KiB window, and a gzip header and trailer (CRC-32, length) checked by zlib.
      scorelift::detail::require(inflateInit2(&stream_, 15 + 16) == Z_OK, where_, "zlib could not start inflating '",
                                 path_, "'");
      inflating_ = true;
    }
  }
  byte_stream(const byte_stream&) = delete;
  byte_stream& operator=(const byte_stream&) = delete;
  ~byte_stream() {
    if (inflating_) inflateEnd(&stream_);
  }

  bool is_open() const { return file_ != nullptr; }
  bool compressed() const { return gzip_; }
  std::uint64_t file_size() const { return file_size_; }
  /// The most bytes this file can decode to: its size if plain, 1032 × its size if gzip.
  std::uint64_t max_decoded_size() const {
    if (!gzip_) return file_size_;
    constexpr std::uint64_t most = std::numeric_limits<std::uint64_t>::max();
    return file_size_ > most / max_deflate_ratio ? most : file_size_ * max_deflate_ratio;
  }

  /// Reads up to `count` decoded bytes; fewer only at the end of the data. Throws on a read error,
  /// corrupt gzip data, a gzip stream cut inside a member, or trailing bytes after the last member.
  std::size_t read(void* into, std::size_t count) {
    auto* out = static_cast<unsigned char*>(into);
    if (!gzip_) {
      const std::size_t got = std::fread(out, 1, count, file());
      scorelift::detail::require(got == count || !std::ferror(file()), where_, "cannot read file '", path_, "'");
      return got;
    }
    std::size_t done = 0;
    while (done < count && !finished_) {
      if (member_ended_ && !next_member()) break;
      if (stream_.avail_in == 0 && !refill()) {
        scorelift::detail::fail(where_, "file '", path_, "' is truncated: its gzip stream ends inside compressed data ",
                                "after ", consumed_, " bytes (an interrupted download?)");
      }
      // inflate counts in uInt: at most 1 GiB per call.
      const auto chunk = static_cast<uInt>(std::min<std::size_t>(count - done, std::size_t{1} << 30U));
      stream_.next_out = out + done;
      stream_.avail_out = chunk;
      const int code = inflate(&stream_, Z_NO_FLUSH);
      done += chunk - stream_.avail_out;
      if (code == Z_STREAM_END) {
        member_ended_ = true;
      } else if (code != Z_OK && code != Z_BUF_ERROR) {
        scorelift::detail::fail(where_, "file '", path_, "' is not a valid gzip stream (zlib: ",
                                stream_.msg != nullptr ? stream_.msg : zError(code), ")");
      }
    }
    return done;
  }

 private:
  /// More compressed input into the buffer (after what is left of it); false at the end of the file.
  bool refill() {
    if (stream_.avail_in > 0 && stream_.next_in != buffer_.data())
      std::copy_n(stream_.next_in, stream_.avail_in, buffer_.begin());
    const std::size_t kept = stream_.avail_in;
    const std::size_t got = std::fread(buffer_.data() + kept, 1, buffer_.size() - kept, file());
    scorelift::detail::require(got > 0 || !std::ferror(file()), where_, "cannot read file '", path_, "'");
    consumed_ += got;
    stream_.next_in = buffer_.data();
    stream_.avail_in = static_cast<uInt>(kept + got);
    return got > 0;
  }

  /// After a member's end: false at the end of the file, true when another member follows (inflate
  /// is reset for it); anything else is trailing data and is refused.
  bool next_member() {
    while (stream_.avail_in < 2 && refill()) {
    }
    if (stream_.avail_in == 0) {
      finished_ = true;
      return false;
    }
    const std::uint64_t offset = consumed_ - stream_.avail_in;
    scorelift::detail::require(stream_.avail_in >= 2 && stream_.next_in[0] == 0x1F && stream_.next_in[1] == 0x8B,
                               where_, "file '", path_, "' has trailing data after its gzip stream (at byte ", offset,
                               " of ", file_size_, "; only further gzip members may follow one)");
    scorelift::detail::require(inflateReset(&stream_) == Z_OK, where_, "zlib could not restart inflating '", path_,
                               "'");
    member_ended_ = false;
    return true;
  }

  struct closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::FILE* file() const { return file_.get(); }

  std::string path_;
  std::string where_;
  std::unique_ptr<std::FILE, closer> file_;  // closed also when the constructor throws
  std::uint64_t file_size_ = 0;
  bool gzip_ = false;
  bool inflating_ = false;
  bool member_ended_ = false;
  bool finished_ = false;
  std::uint64_t consumed_ = 0;  // compressed bytes read from the file so far
  z_stream stream_{};
  std::vector<unsigned char> buffer_;
};

}  // namespace scorelift::data::detail
