// Reference tool for the evaluator's tests: per-token log-probabilities and tokenizations
// straight from libllama (llama.cpp's C API), nothing of llama.cpp's `common` layer.
// Built by scripts/make-llama-cpp-fixtures.sh (see scripts/llama-cpp-build.sh):
//
//   g++ -O2 -std=c++17 llama-logprobs.cpp -I<llama.cpp>/include -I<llama.cpp>/ggml/include
//       -I<llama.cpp>/vendor -L<build/bin> -lllama -lggml -lggml-base
//
// Usage:
//   llama-logprobs logprobs MODEL.gguf TEXTS.json [--kv f16|f32] [--fa auto|on|off]
//                  [--threads N] [--ctx N]
//       TEXTS.json: a JSON array of strings. Each text is tokenized with
//       llama_tokenize(add_special=true, parse_special=false), run as one sequence from
//       position 0 (KV cache cleared before each text) with logits for every position, and
//       scored: logprobs[i] = log_softmax(logits at position i-1)[token_ids[i]], the
//       log-sum-exp taken in float64 over the fp32 logits; logprobs[0] = null;
//       greedy[i] = (first argmax of the logits at i-1) == token_ids[i].
//       Writes one JSON object to stdout: settings (including the flash-attention
//       decision llama.cpp logged) and "items"; pieces are given as hex bytes
//       (llama_token_to_piece(special=true)), since a piece may be part of a UTF-8 character.
//   llama-logprobs tokenize MODEL.gguf CASES.inp [--add-special 0|1] [--parse-special 0|1]
//       CASES.inp: strings separated by "\n__ggml_vocab_test__\n" (llama.cpp's
//       test-tokenizer-0 layout; the file ends with a separator). Prints one line per
//       string: each id preceded by a space (the .out layout). Loads the vocabulary only.
#include "llama.h"
#include "nlohmann/json.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using json = nlohmann::ordered_json;

static std::string g_log;   // everything libllama logged, for the flash-attention decision

static void log_cb(enum ggml_log_level level, const char * text, void *) {
    g_log += text;
    if (level >= GGML_LOG_LEVEL_WARN || getenv("LLAMA_LOGPROBS_VERBOSE")) {
        fputs(text, stderr);
    }
}

static bool quiet_progress(float, void *) { return true; }

static std::string read_file(const std::string & path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot read " + path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

static std::vector<llama_token> tokenize(const llama_vocab * vocab, const std::string & text,
                                         bool add_special, bool parse_special) {
    int n = -llama_tokenize(vocab, text.data(), (int32_t) text.size(), nullptr, 0, add_special, parse_special);
    std::vector<llama_token> ids(std::max(n, 0));
    if (n > 0) {
        int got = llama_tokenize(vocab, text.data(), (int32_t) text.size(), ids.data(), n, add_special, parse_special);
        if (got != n) throw std::runtime_error("llama_tokenize: unexpected count");
    }
    return ids;
}

static std::string piece_hex(const llama_vocab * vocab, llama_token t) {
    std::vector<char> buf(256);
    int n = llama_token_to_piece(vocab, t, buf.data(), (int32_t) buf.size(), 0, true);
    if (n < 0) {
        buf.resize(-n);
        n = llama_token_to_piece(vocab, t, buf.data(), (int32_t) buf.size(), 0, true);
    }
    static const char * hexd = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char) buf[i];
        out += hexd[c >> 4];
        out += hexd[c & 15];
    }
    return out;
}

static std::string opt(std::vector<std::string> & args, const std::string & name, const std::string & def) {
    for (size_t i = 0; i + 1 < args.size(); i++) {
        if (args[i] == name) {
            std::string v = args[i + 1];
            args.erase(args.begin() + i, args.begin() + i + 2);
            return v;
        }
    }
    return def;
}

static int run_tokenize(const std::string & model_path, const std::string & inp, std::vector<std::string> args) {
    bool add_special = opt(args, "--add-special", "0") == "1";
    bool parse_special = opt(args, "--parse-special", "0") == "1";
    if (!args.empty()) throw std::runtime_error("unknown argument " + args[0]);
    llama_model_params mp = llama_model_default_params();
    mp.vocab_only = true;
    mp.progress_callback = quiet_progress;
    llama_model * model = llama_model_load_from_file(model_path.c_str(), mp);
    if (!model) throw std::runtime_error("cannot load " + model_path);
    const llama_vocab * vocab = llama_model_get_vocab(model);
    const std::string raw = read_file(inp);
    const std::string sep = "\n__ggml_vocab_test__\n";
    size_t pos = 0;
    for (;;) {
        size_t next = raw.find(sep, pos);
        if (next == std::string::npos) break;
        std::string text = raw.substr(pos, next - pos);
        std::string line;
        for (llama_token t : tokenize(vocab, text, add_special, parse_special)) line += " " + std::to_string(t);
        printf("%s\n", line.c_str());
        pos = next + sep.size();
    }
    if (pos != raw.size()) throw std::runtime_error(inp + ": does not end with a separator line");
    llama_model_free(model);
    return 0;
}

static int run_logprobs(const std::string & model_path, const std::string & texts_path, std::vector<std::string> args) {
    const std::string kv = opt(args, "--kv", "f16");
    const std::string fa = opt(args, "--fa", "auto");
    const int threads = std::stoi(opt(args, "--threads", "2"));
    const int n_ctx = std::stoi(opt(args, "--ctx", "4096"));
    if (!args.empty()) throw std::runtime_error("unknown argument " + args[0]);
    json texts = json::parse(read_file(texts_path));

    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    mp.progress_callback = quiet_progress;
    llama_model * model = llama_model_load_from_file(model_path.c_str(), mp);
    if (!model) throw std::runtime_error("cannot load " + model_path);
    const llama_vocab * vocab = llama_model_get_vocab(model);
    const int n_vocab = llama_vocab_n_tokens(vocab);

    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    if (kv == "f32") {
        cp.type_k = GGML_TYPE_F32;
        cp.type_v = GGML_TYPE_F32;
    } else if (kv == "f16") {
        cp.type_k = GGML_TYPE_F16;
        cp.type_v = GGML_TYPE_F16;
    } else {
        throw std::runtime_error("--kv: f16 or f32");
    }
    if (fa == "auto") cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_AUTO;
    else if (fa == "on") cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_ENABLED;
    else if (fa == "off") cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    else throw std::runtime_error("--fa: auto, on or off");
    g_log.clear();
    llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) throw std::runtime_error("cannot create a context");

    // what llama.cpp decided for flash attention ("auto" resolves when the context is made)
    std::string fa_decision = fa;
    {
        std::istringstream ls(g_log);
        std::string line;
        while (std::getline(ls, line)) {
            if (line.find("Flash Attention") != std::string::npos || line.find("flash_attn") != std::string::npos) {
                fa_decision += " | " + line;
            }
        }
    }

    json out;
    out["n_ctx"] = llama_n_ctx(ctx);
    out["n_batch"] = llama_n_batch(ctx);
    out["n_ubatch"] = llama_n_ubatch(ctx);
    out["threads"] = threads;
    out["kv_cache"] = kv;
    out["flash_attn"] = fa_decision;
    out["add_bos"] = llama_vocab_get_add_bos(vocab);
    out["system_info"] = llama_print_system_info();
    out["items"] = json::array();

    for (const auto & jt : texts) {
        const std::string text = jt.get<std::string>();
        std::vector<llama_token> ids = tokenize(vocab, text, true, false);
        const int n = (int) ids.size();
        if (n == 0 || n > (int) llama_n_batch(ctx)) throw std::runtime_error("text too long or empty: " + text);
        llama_memory_clear(llama_get_memory(ctx), true);
        llama_batch batch = llama_batch_init(n, 0, 1);
        batch.n_tokens = n;
        for (int i = 0; i < n; i++) {
            batch.token[i] = ids[i];
            batch.pos[i] = i;
            batch.n_seq_id[i] = 1;
            batch.seq_id[i][0] = 0;
            batch.logits[i] = 1;
        }
        if (llama_decode(ctx, batch) != 0) throw std::runtime_error("llama_decode failed");
        json item;
        item["text"] = text;
        item["token_ids"] = ids;
        json pieces = json::array(), lps = json::array(), greedy = json::array();
        double sum = 0.0;
        for (int i = 0; i < n; i++) {
            pieces.push_back(piece_hex(vocab, ids[i]));
            if (i == 0) {
                lps.push_back(nullptr);
                greedy.push_back(nullptr);
                continue;
            }
            const float * lg = llama_get_logits_ith(ctx, i - 1);
            if (!lg) throw std::runtime_error("no logits");
            int best = 0;
            double mx = lg[0];
            for (int v = 1; v < n_vocab; v++) {
                if (lg[v] > mx) { mx = lg[v]; best = v; }
            }
            double s = 0.0;
            for (int v = 0; v < n_vocab; v++) s += std::exp((double) lg[v] - mx);
            const double lp = (double) lg[ids[i]] - (mx + std::log(s));
            lps.push_back(lp);
            greedy.push_back(best == ids[i]);
            sum += lp;
        }
        item["pieces_hex"] = pieces;
        item["logprobs"] = lps;
        item["greedy"] = greedy;
        item["sum_logprob"] = sum;
        out["items"].push_back(item);
        llama_batch_free(batch);
    }
    printf("%s\n", out.dump(1).c_str());
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}

int main(int argc, char ** argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s logprobs|tokenize MODEL.gguf INPUT [options]  (see the source)\n", argv[0]);
        return 2;
    }
    llama_log_set(log_cb, nullptr);
    llama_backend_init();
    std::vector<std::string> rest(argv + 4, argv + argc);
    int rc;
    try {
        const std::string mode = argv[1];
        if (mode == "logprobs") rc = run_logprobs(argv[2], argv[3], rest);
        else if (mode == "tokenize") rc = run_tokenize(argv[2], argv[3], rest);
        else throw std::runtime_error("unknown mode " + mode);
    } catch (const std::exception & e) {
        fprintf(stderr, "llama-logprobs: %s\n", e.what());
        rc = 1;
    }
    llama_backend_free();
    return rc;
}
