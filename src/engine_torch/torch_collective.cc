// c10d process groups behind the Collective interface (see torch_collective.h).
#include "engine_torch/torch_collective.h"

#include <fmt/format.h>

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "core/check.h"

namespace ot::torch_engine {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string Hostname() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return name;
}

std::vector<uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string Text(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

class C10dCollective final : public Collective {
 public:
  C10dCollective(const Rendezvous& r, const ComputeConfig& compute) : r_(r) {
    const milliseconds timeout(static_cast<int64_t>(r.timeout_s * 1000));
    if (!r.store_path.empty()) {
      store_ = c10::make_intrusive<c10d::FileStore>(r.store_path, r.world_size);
    } else {
      c10d::TCPStoreOptions o;
      o.port = static_cast<uint16_t>(r.master_port);
      o.isServer = r.rank == 0;
      o.numWorkers = r.world_size;
      o.waitWorkers = false;
      o.timeout = timeout;
      store_ = c10::make_intrusive<c10d::TCPStore>(r.master_addr, o);
    }
    store_->setTimeout(timeout);
    const bool cuda = compute.device != "cpu";
    if (cuda) {
#ifdef USE_C10D_NCCL
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      nccl_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(
          c10::make_intrusive<c10d::PrefixStore>("nccl", store_), r.rank, r.world_size, options);
#else
      throw Error("compute.device = '" + compute.device +
                  "' in a data-parallel run needs a LibTorch with NCCL; this one has none");
#endif
    }
    // Gloo always: the host-side sums (loss scalars, the native engine's arenas) and the barrier.
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    const char* iface = std::getenv("GLOO_SOCKET_IFNAME");
    const bool local = !r.store_path.empty() || r.master_addr == "127.0.0.1" ||
                       r.master_addr == "localhost" || r.master_addr == Hostname();
    options->devices.push_back(
        iface != nullptr ? c10d::ProcessGroupGloo::createDeviceForInterface(iface)
        : local          ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                         : c10d::ProcessGroupGloo::createDefaultDevice());
    gloo_ = c10::make_intrusive<c10d::ProcessGroupGloo>(
        c10::make_intrusive<c10d::PrefixStore>("gloo", store_), r.rank, r.world_size, options);
    store_->set(fmt::format("who/{}", r.rank),
                Bytes(fmt::format("pid {} on {}", getpid(), Hostname())));
    heartbeat_ = std::thread([this] { Beat(); });
  }

  ~C10dCollective() override {
    stop_ = true;
    if (heartbeat_.joinable()) heartbeat_.join();
  }

  int rank() const override { return r_.rank; }
  int world_size() const override { return r_.world_size; }

  void AllReduceSum(std::span<float> data) override {
    at::Tensor t = at::from_blob(data.data(), {static_cast<int64_t>(data.size())},
                                 at::TensorOptions().dtype(at::kFloat));
    Reduce(t);
  }
  void AllReduceSum(std::span<double> data) override {
    at::Tensor t = at::from_blob(data.data(), {static_cast<int64_t>(data.size())},
                                 at::TensorOptions().dtype(at::kDouble));
    Reduce(t);
  }
  void Broadcast(std::span<float> data, int root) override {
    std::vector<at::Tensor> ts{at::from_blob(data.data(), {static_cast<int64_t>(data.size())},
                                             at::TensorOptions().dtype(at::kFloat))};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    Wait("broadcast", gloo_->broadcast(ts, o));
  }
  void Barrier() override { Wait("barrier", gloo_->barrier()); }

  // A device tensor through NCCL where there is one, else Gloo (CPU tensors).
  void Reduce(at::Tensor& t) {
    std::vector<at::Tensor> ts{t};
#ifdef USE_C10D_NCCL
    if (nccl_ && t.is_cuda()) return Wait("all-reduce", nccl_->allreduce(ts));
#endif
    if (t.is_cuda()) {  // no NCCL: through the host
      at::Tensor host = t.to(at::kCPU);
      std::vector<at::Tensor> hs{host};
      Wait("all-reduce", gloo_->allreduce(hs));
      t.copy_(host);
      return;
    }
    Wait("all-reduce", gloo_->allreduce(ts));
  }

 private:
  // Each rank's wall-clock time in the store every second: who stopped is who stopped beating.
  void Beat() {
    while (!stop_) {
      try {
        store_->set(fmt::format("beat/{}", r_.rank), Bytes(fmt::format("{:.3f}", NowSeconds())));
      } catch (...) {  // the store (rank 0) is gone; the collective that fails will say so
      }
      for (int i = 0; i < 10 && !stop_; ++i) std::this_thread::sleep_for(milliseconds(100));
    }
  }

  // Waits for `work`; a failure (a peer closed its connection, the timeout) becomes one sentence
  // naming the ranks that stopped beating.
  void Wait(const char* what, const c10::intrusive_ptr<c10d::Work>& work) {
    try {
      work->wait();
    } catch (const std::exception& e) {
      throw Error(
          fmt::format("data parallel: rank {} of {}: the {} failed ({}); {}; stopping. The "
                      "newest checkpoint is valid: run the same command again to resume",
                      r_.rank, r_.world_size, what, FirstLine(e.what()), WhoStopped()));
    }
  }

  // The ranks whose heartbeat stops advancing: their beats are read, then read again after 2.5
  // heartbeat periods; a live rank has beaten in between.
  std::string WhoStopped() {
    std::string dead;
    try {
      store_->setTimeout(milliseconds(2000));
      const auto beats = [&] {
        std::vector<std::string> b(r_.world_size);
        for (int k = 0; k < r_.world_size; ++k)
          if (k != r_.rank) b[k] = Text(store_->get(fmt::format("beat/{}", k)));
        return b;
      };
      const std::vector<std::string> before = beats();
      std::this_thread::sleep_for(milliseconds(2500));
      const std::vector<std::string> after = beats();
      for (int k = 0; k < r_.world_size; ++k)
        if (k != r_.rank && before[k] == after[k])
          dead += fmt::format("{}rank {} ({}) stopped answering", dead.empty() ? "" : ", ", k,
                              Text(store_->get(fmt::format("who/{}", k))));
    } catch (...) {
      return r_.rank == 0 ? "the other ranks did not answer"
                          : "rank 0, which serves the rendezvous store, is gone";
    }
    return dead.empty() ? "every other rank still answers (a timeout or a network failure)" : dead;
  }

  static std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

  Rendezvous r_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo_;
#ifdef USE_C10D_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl_;
#endif
  std::atomic<bool> stop_{false};
  std::thread heartbeat_;
};

}  // namespace

std::unique_ptr<Collective> MakeCollective(const Rendezvous& rendezvous,
                                           const ComputeConfig& compute) {
  try {
    return std::make_unique<C10dCollective>(rendezvous, compute);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(fmt::format(
        "data parallel: rank {} of {} could not join the process group through "
        "{} ({})",
        rendezvous.rank, rendezvous.world_size,
        rendezvous.store_path.empty()
            ? fmt::format("the TCP store at {}:{}", rendezvous.master_addr, rendezvous.master_port)
            : "the file store " + rendezvous.store_path,
        std::string(e.what()).substr(0, std::string(e.what()).find('\n'))));
  }
}

void AllReduceSum(Collective& collective, at::Tensor& tensor) {
  if (auto* c = dynamic_cast<C10dCollective*>(&collective)) return c->Reduce(tensor);
  at::Tensor host = tensor.to(at::kCPU).contiguous();
  collective.AllReduceSum(std::span<float>(host.data_ptr<float>(), host.numel()));
  tensor.copy_(host);
}

}  // namespace ot::torch_engine
