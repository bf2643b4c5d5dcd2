#include "app_config.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "edgert/vision/yaml_section.h"

namespace edgert::app {

using vision::Section;

namespace {

Status parseSource(const std::string& origin, const std::string& base, const YAML::Node& n,
                   size_t index, Source* src) {
  const Section s(origin, strCat("sources[", index, "]"), n);
  const Status parsed = s.forEach(
      {"name", "file", "uri", "camera", "test", "num_buffers", "format"},
      [&](const std::string& k, const YAML::Node& v) -> Status {
        if (k == "name") return s.string(k, v, &src->name);
        if (k == "format")
          return s.oneOf(k, v,
                         {"RGB", "BGR", "RGBA", "BGRA", "RGBx", "BGRx", "NV12", "I420", "GRAY8"},
                         &src->format);
        if (k == "num_buffers") {
          int64_t i;
          EDGERT_RETURN_IF_ERROR(s.integer(k, v, &i, -1, int64_t{1} << 31));
          src->num_buffers = static_cast<int>(i);
          return Status::Ok();
        }
        if (!src->kind.empty())
          return s.error(v, strCat("source has both '", src->kind, "' and '", k, "'"));
        src->kind = k;
        EDGERT_RETURN_IF_ERROR(s.string(k, v, &src->location));
        if (k == "file") src->location = vision::resolveConfigPath(base, src->location);
        return Status::Ok();
      });
  if (!parsed.ok()) return parsed;
  if (src->kind.empty())
    return s.error(n, strCat("sources[", index, "] needs one of file, uri, camera, test"));
  if (src->name.empty()) src->name = strCat("stream", index);
  if (src->name.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != std::string::npos)
    return s.error(n,
                   strCat("source name '", src->name, "' may use letters, digits, _ and - only"));
  return Status::Ok();
}

}  // namespace

Result<AppConfig> parseAppConfig(const std::string& text, const std::string& origin,
                                 const std::string& base) {
  EDGERT_ASSIGN_OR_RETURN(const YAML::Node root, vision::loadYaml(text, origin));
  AppConfig cfg;
  cfg.origin = origin;
  const Section top(origin, "", root);
  try {
    const Status parsed = top.forEach(
        {"sources", "model", "secondary", "track", "backend", "outputs"},
        [&](const std::string& k, const YAML::Node& v) -> Status {
          if (k == "secondary") {
            if (!v.IsSequence()) return top.error(v, "'secondary' must be a list of element YAMLs");
            for (const auto& item : v) {
              std::string p;
              EDGERT_RETURN_IF_ERROR(top.string(k, item, &p));
              cfg.secondary_configs.push_back(vision::resolveConfigPath(base, p));
            }
            return Status::Ok();
          }
          if (k == "track") {
            if (v.IsScalar()) return top.boolean(k, v, &cfg.track);
            cfg.track = true;
            const Section tr(origin, "track", v);
            return tr.forEach(
                {"max_age", "min_hits"},
                [&](const std::string& tk, const YAML::Node& tv) -> Status {
                  int64_t i;
                  EDGERT_RETURN_IF_ERROR(tr.integer(tk, tv, &i, tk == "max_age" ? 0 : 1, 1 << 20));
                  (tk == "max_age" ? cfg.track_max_age : cfg.track_min_hits) = static_cast<int>(i);
                  return Status::Ok();
                });
          }
          if (k == "model") {
            EDGERT_RETURN_IF_ERROR(top.string(k, v, &cfg.model_config));
            cfg.model_config = vision::resolveConfigPath(base, cfg.model_config);
            return Status::Ok();
          }
          if (k == "backend") return top.oneOf(k, v, {"cpu", "cuda", "auto"}, &cfg.backend);
          if (k == "sources") {
            if (!v.IsSequence() || v.size() == 0)
              return top.error(v, "'sources' must be a non-empty list");
            std::set<std::string> names;
            for (size_t i = 0; i < v.size(); ++i) {
              Source src;
              EDGERT_RETURN_IF_ERROR(parseSource(origin, base, v[i], i, &src));
              if (!names.insert(src.name).second)
                return top.error(v[i], strCat("two sources are named '", src.name, "'"));
              cfg.sources.push_back(src);
            }
            return Status::Ok();
          }
          const Section out(origin, "outputs", v);
          return out.forEach(
              {"video", "display", "json", "mqtt", "rtsp"},
              [&](const std::string& ok, const YAML::Node& ov) -> Status {
                if (ok == "display") return out.boolean(ok, ov, &cfg.display);
                if (ok == "rtsp") {
                  const Section rt(origin, "outputs.rtsp", ov);
                  cfg.rtsp_port = 8554;
                  return rt.forEach(
                      {"port", "path"}, [&](const std::string& rk, const YAML::Node& rv) -> Status {
                        if (rk == "path") {
                          EDGERT_RETURN_IF_ERROR(rt.string(rk, rv, &cfg.rtsp_path));
                          if (cfg.rtsp_path.empty() || cfg.rtsp_path[0] != '/')
                            return rt.error(rv, "'outputs.rtsp.path' must start with /");
                          return Status::Ok();
                        }
                        int64_t p;
                        EDGERT_RETURN_IF_ERROR(rt.integer(rk, rv, &p, 1, 65535));
                        cfg.rtsp_port = static_cast<int>(p);
                        return Status::Ok();
                      });
                }
                if (ok == "mqtt") {
                  const Section mq(origin, "outputs.mqtt", ov);
                  return mq.forEach({"broker", "topic"}, [&](const std::string& mk,
                                                             const YAML::Node& mv) {
                    return mq.string(mk, mv, mk == "broker" ? &cfg.mqtt_broker : &cfg.mqtt_topic);
                  });
                }
                std::string p;
                EDGERT_RETURN_IF_ERROR(out.string(ok, ov, &p));
                if (ok == "json" && p != "-") p = vision::resolveConfigPath(base, p);
                if (ok == "video") p = vision::resolveConfigPath(base, p);
                (ok == "json" ? cfg.json_output : cfg.video_output) = p;
                return Status::Ok();
              });
        });
    if (!parsed.ok()) return parsed;
  } catch (const YAML::Exception& e) {
    return Status(StatusCode::kInvalidArgument, strCat(origin, ":", e.mark.line + 1, ": ", e.msg));
  }
  if (cfg.sources.empty())
    return Status(StatusCode::kInvalidArgument, strCat(origin, ": 'sources' is required"));
  if (cfg.model_config.empty())
    return Status(StatusCode::kInvalidArgument, strCat(origin, ": 'model' is required"));
  if (cfg.sources.size() > 1 && !cfg.video_output.empty() &&
      cfg.video_output.find("{name}") == std::string::npos)
    return Status(StatusCode::kInvalidArgument,
                  strCat(origin, ": outputs.video must contain {name} with several sources"));
  if (cfg.rtsp_port && cfg.rtsp_path.empty()) cfg.rtsp_path = "/{name}";
  if (cfg.sources.size() > 1 && cfg.rtsp_port && cfg.rtsp_path.find("{name}") == std::string::npos)
    return Status(StatusCode::kInvalidArgument,
                  strCat(origin, ": outputs.rtsp.path must contain {name} with several sources"));
  if (!cfg.video_output.empty()) {
    const std::string ext = std::filesystem::path(cfg.video_output).extension().string();
    if (ext != ".mp4" && ext != ".mkv")
      return Status(
          StatusCode::kInvalidArgument,
          strCat(origin, ": outputs.video must end in .mp4 or .mkv, got '", cfg.video_output, "'"));
  }
  return cfg;
}

Result<AppConfig> loadAppConfig(const std::string& path) {
  EDGERT_ASSIGN_OR_RETURN(vision::ConfigText t, vision::readConfigFile(path, "app config"));
  return parseAppConfig(t.text, path, t.base_dir);
}

}  // namespace edgert::app
