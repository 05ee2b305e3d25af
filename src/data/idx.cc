// IDX reader: a byte stream over the file (inflated on the fly when gzip), the header checked field
// by field, the data read into an allocation sized by the checked dimensions, then the end of the
// file confirmed. Vision splits pair an image file with its label file.
#include "data/idx.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <array>

#include "core/check.h"
#include "core/fileio.h"
#include "data/fetch.h"
#include "data/util.h"

namespace ot::data {
namespace {

namespace fs = std::filesystem;

// The decompressed bytes of a whole file held in memory: the bytes themselves, or their gzip
// inflation (concatenated members allowed). Read() never inflates more than it is asked for, so a
// gzip bomb costs no more than the caller's checked request.
class IdxStream {
 public:
  IdxStream(std::string_view file, const std::string& name) : file_(file), name_(name) {
    gzip_ = file.size() >= 2 && static_cast<uint8_t>(file[0]) == 0x1f &&
            static_cast<uint8_t>(file[1]) == 0x8b;
    if (!gzip_) return;
    if (inflateInit2(&zs_, 15 + 16) != Z_OK) throw Error(name_ + ": zlib init failed");
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(file.data()));
    zs_.avail_in = static_cast<uInt>(std::min<size_t>(file.size(), UINT32_MAX));
  }
  ~IdxStream() {
    if (gzip_) inflateEnd(&zs_);
  }
  IdxStream(const IdxStream&) = delete;
  IdxStream& operator=(const IdxStream&) = delete;

  bool gzip() const { return gzip_; }
  // Bytes of the file as stored (the compressed size for gzip).
  size_t stored_size() const { return file_.size(); }

  // Fills dst with up to n bytes; fewer only at the end of the data. Throws Error on corrupt or
  // truncated gzip data.
  size_t Read(uint8_t* dst, size_t n) {
    if (!gzip_) {
      const size_t k = std::min(n, file_.size() - at_);
      std::copy_n(file_.data() + at_, k, dst);
      at_ += k;
      return k;
    }
    size_t got = 0;
    while (got < n && !ended_) {
      zs_.next_out = dst + got;
      zs_.avail_out = static_cast<uInt>(std::min<size_t>(n - got, size_t{1} << 30));
      const uInt before = zs_.avail_out;
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      got += before - zs_.avail_out;
      if (rc == Z_STREAM_END) {
        if (zs_.avail_in == 0) {
          ended_ = true;
        } else {
          inflateReset(&zs_);  // the next gzip member
        }
      } else if (rc == Z_BUF_ERROR) {  // no progress with room to write: the input is spent
        throw Error(name_ +
                    ": the gzip data ends early (truncated); expected a complete gzip file");
      } else if (rc != Z_OK) {
        throw Error(fmt::format("{}: corrupt gzip data (zlib: {}); expected a valid gzip file",
                                name_, zs_.msg ? zs_.msg : std::to_string(rc)));
      }
    }
    return got;
  }

 private:
  std::string_view file_;
  std::string name_;
  bool gzip_ = false;
  bool ended_ = false;
  size_t at_ = 0;  // plain files: the read position
  z_stream zs_{};
};

const char* IdxTypeName(uint8_t type) {
  switch (type) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0b:
      return "int16";
    case 0x0c:
      return "int32";
    case 0x0d:
      return "float32";
    case 0x0e:
      return "float64";
    default:
      return "not an idx type";
  }
}

uint32_t ReadBe32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// One idx file of unsigned bytes with `ndim` dimensions (`dim_names`): the header checked, then
// the data. Returns the dimensions and the data.
struct IdxArray {
  std::vector<uint32_t> dims;
  std::vector<uint8_t> data;
};

IdxArray ReadIdx(std::string_view file, const std::string& name, uint8_t ndim,
                 const std::vector<const char*>& dim_names, const char* what) {
  IdxStream in(file, name);
  std::array<uint8_t, 4> magic{};
  const size_t got_magic = in.Read(magic.data(), 4);
  if (got_magic < 4)
    throw Error(
        fmt::format("{}: the file ends after {} bytes, inside the 4-byte idx magic; expected "
                    "an idx file ({})",
                    name, got_magic, what));
  if (magic[0] != 0 || magic[1] != 0)
    throw Error(fmt::format("{}: magic bytes 0-1 are 0x{:02x}{:02x}; expected 0x0000 (an idx file)",
                            name, magic[0], magic[1]));
  if (magic[2] != 0x08)
    throw Error(
        fmt::format("{}: data type (magic byte 2) is 0x{:02x} ({}); expected 0x08 "
                    "(unsigned byte)",
                    name, magic[2], IdxTypeName(magic[2])));
  if (magic[3] != ndim)
    throw Error(fmt::format("{}: number of dimensions (magic byte 3) is {}; expected {} ({})", name,
                            magic[3], ndim, what));
  std::array<uint8_t, 12> raw{};
  const size_t dim_bytes = 4 * size_t{ndim};
  const size_t got_dims = in.Read(raw.data(), dim_bytes);
  if (got_dims < dim_bytes)
    throw Error(
        fmt::format("{}: the file ends {} bytes into the {}-byte dimensions; expected {} "
                    "big-endian uint32 after the magic",
                    name, got_dims, dim_bytes, ndim));
  IdxArray out;
  uint64_t bytes = 1;
  std::string shape;
  for (size_t d = 0; d < ndim; ++d) {
    const uint32_t v = ReadBe32(raw.data() + 4 * d);
    const uint32_t max = d == 0 ? kIdxMaxCount : kIdxMaxSide;
    if (v < 1 || v > max)
      throw Error(fmt::format("{}: dimension {} ({}) is {}; expected 1 to {}", name, d,
                              dim_names[d], v, max));
    out.dims.push_back(v);
    bytes *= v;  // at most 2^24 x 4096 x 4096: no overflow
    shape += (d ? "x" : "") + std::to_string(v);
  }
  const size_t header = 4 + dim_bytes;
  if (bytes > kIdxMaxDataBytes)
    throw Error(
        fmt::format("{}: dimensions {} declare {} bytes of data; expected at most {} (1 GiB)", name,
                    shape, bytes, kIdxMaxDataBytes));
  if (in.gzip()) {
    // Refused before any allocation: far more data than these compressed bytes can honestly hold.
    const uint64_t cap = std::max<uint64_t>(kMinGzipCapBytes, kMaxGzipRatio * in.stored_size());
    if (header + bytes > cap)
      throw Error(
          fmt::format("{}: dimensions {} declare {} bytes in a {}-byte gzip file; expected "
                      "at most {} (the larger of {} MiB and {}x the compressed size), not "
                      "a gzip bomb",
                      name, shape, header + bytes, in.stored_size(), cap, kMinGzipCapBytes >> 20,
                      kMaxGzipRatio));
  } else {
    const uint64_t rest = file.size() - header;
    if (rest < bytes)
      throw Error(
          fmt::format("{}: the data is truncated: {} of the {} bytes that dimensions {} "
                      "declare; expected all of them after the {}-byte header",
                      name, rest, bytes, shape, header));
    if (rest > bytes)
      throw Error(
          fmt::format("{}: {} bytes follow the {} bytes that dimensions {} declare; "
                      "expected the file to end there",
                      name, rest - bytes, bytes, shape));
  }
  if (in.gzip()) {
    // Grown as the data inflates, so a stream that ends early never costs the declared size.
    std::array<uint8_t, 1 << 16> buf;
    while (out.data.size() < bytes) {
      const size_t want = std::min<uint64_t>(buf.size(), bytes - out.data.size());
      const size_t k = in.Read(buf.data(), want);
      out.data.insert(out.data.end(), buf.begin(), buf.begin() + k);
      if (k < want)
        throw Error(
            fmt::format("{}: the data is truncated: {} of the {} bytes that dimensions {} "
                        "declare; expected all of them after the {}-byte header",
                        name, out.data.size(), bytes, shape, header));
    }
    uint8_t extra = 0;
    if (in.Read(&extra, 1) != 0)
      throw Error(
          fmt::format("{}: more bytes follow the {} bytes that dimensions {} declare; "
                      "expected the file to end there",
                      name, bytes, shape));
  } else {
    out.data.assign(file.begin() + header, file.end());  // exactly `bytes`, checked above
  }
  return out;
}

// The whole file, refused before reading when larger than any valid idx file can be: the largest
// data, its header and deflate's worst case (stored blocks: 5 bytes per 64 KiB, plus the gzip
// header and trailer).
std::string ReadIdxFile(const fs::path& path) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) throw Error(path.string() + ": cannot read the file (" + ec.message() + ")");
  const uint64_t max = kIdxMaxDataBytes + kIdxMaxDataBytes / 8192 + 4096;
  if (size > max)
    throw Error(
        fmt::format("{}: the file is {} bytes; expected at most {} (an idx file of at most "
                    "1 GiB of data)",
                    path.string(), size, max));
  return ReadFile(path);
}

// <dir>/<stem>, else <dir>/<stem>.gz.
fs::path FindIdxFile(const fs::path& dir, const std::string& stem) {
  for (const fs::path& p : {dir / stem, dir / (stem + ".gz")})
    if (fs::is_regular_file(p)) return p;
  throw Error(
      fmt::format("{}: neither {} nor {}.gz is there; expected the idx files of a vision "
                  "source",
                  dir.string(), stem, stem));
}

}  // namespace

IdxImages ParseIdxImages(std::string_view file, const std::string& name) {
  IdxArray a =
      ReadIdx(file, name, 3, {"count", "rows", "cols"}, "an image file: count, rows, cols");
  IdxImages out;
  out.count = a.dims[0], out.rows = a.dims[1], out.cols = a.dims[2];
  out.pixels = std::move(a.data);
  return out;
}

std::vector<uint8_t> ParseIdxLabels(std::string_view file, const std::string& name,
                                    uint32_t classes) {
  IdxArray a = ReadIdx(file, name, 1, {"count"}, "a label file: count");
  for (size_t i = 0; i < a.data.size(); ++i)
    if (a.data[i] >= classes)
      throw Error(fmt::format("{}: item {} has label {}; expected 0 to {} ({} classes)", name, i,
                              a.data[i], classes - 1, classes));
  return std::move(a.data);
}

IdxImages LoadIdxImages(const fs::path& path) {
  return ParseIdxImages(ReadIdxFile(path), path.string());
}

std::vector<uint8_t> LoadIdxLabels(const fs::path& path, uint32_t classes) {
  return ParseIdxLabels(ReadIdxFile(path), path.string(), classes);
}

VisionDataset LoadVisionDataset(const fs::path& dir, const std::string& split,
                                const std::string& name) {
  if (split != "train" && split != "test")
    throw Error("unknown vision split '" + split + "'; expected train or test");
  const std::string prefix = split == "train" ? "train" : "t10k";
  const fs::path images_path = FindIdxFile(dir, prefix + "-images-idx3-ubyte");
  const fs::path labels_path = FindIdxFile(dir, prefix + "-labels-idx1-ubyte");
  IdxImages images = LoadIdxImages(images_path);
  VisionDataset out;
  out.labels = LoadIdxLabels(labels_path, out.classes);
  if (out.labels.size() != images.count)
    throw Error(fmt::format("{}: {} labels for the {} images of {}; expected one label per image",
                            labels_path.string(), out.labels.size(), images.count,
                            images_path.filename().string()));
  out.name = name.empty() ? split : name + " " + split;
  out.rows = images.rows, out.cols = images.cols;
  out.images = std::move(images.pixels);
  return out;
}

std::string DescribeVisionDataset(const VisionDataset& d) {
  std::vector<size_t> per_class(d.classes, 0);
  for (uint8_t label : d.labels) {
    OT_CHECK(label < d.classes) << d.name << ": label " << int{label};
    ++per_class[label];
  }
  uint64_t sum = 0;
  for (uint8_t p : d.images) sum += p;
  const double mean = d.images.empty() ? 0.0 : static_cast<double>(sum) / d.images.size();
  std::string out = fmt::format("{}: {} images of {}x{}, mean pixel {:.2f}\n  classes:", d.name,
                                d.size(), d.rows, d.cols, mean);
  for (size_t n : per_class) out += " " + std::to_string(n);
  return out + "\n";
}

std::vector<std::string> VisionSources() { return SourceGroup("vision"); }

VisionDataset LoadVisionSource(const fs::path& cache, const std::string& source,
                               const std::string& split) {
  const SourceSpec& spec = FindSource(source);
  if (spec.group != "vision") {
    std::string list;
    for (const auto& s : VisionSources()) list += (list.empty() ? "" : ", ") + s;
    throw Error("source '" + source + "' is not a vision source; expected one of: " + list);
  }
  return LoadVisionDataset(SourceDir(cache, source) / spec.keep.at(0), split, source);
}

}  // namespace ot::data
