package ai.lsntp.serve;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * The page's files, all from the classpath: its own (ai/lsntp/serve/web), Leaflet from its webjar,
 * the coastlines and TopoJSON reader from web/vendor (README there). A fixed list read once at
 * start: nothing else on the classpath can be asked for, and nothing is fetched from elsewhere.
 */
final class Assets {
  private static final String WEB = "ai/lsntp/serve/web/";
  private static final String LEAFLET_POM = "META-INF/maven/org.webjars.npm/leaflet/pom.properties";

  /** A file as served: its bytes and content type. */
  record Asset(byte[] bytes, String contentType) {}

  private final Map<String, Asset> byPath = new LinkedHashMap<>();

  Assets() {
    add("/", WEB + "index.html", "text/html; charset=utf-8");
    add("/assets/live.js", WEB + "live.js", "text/javascript; charset=utf-8");
    add("/assets/live.css", WEB + "live.css", "text/css; charset=utf-8");
    add("/assets/land-50m.json", WEB + "vendor/world-atlas/land-50m.json", "application/json");
    add("/assets/topojson-client.min.js", WEB + "vendor/topojson-client/topojson-client.min.js",
        "text/javascript; charset=utf-8");
    String leaflet = "META-INF/resources/webjars/leaflet/" + leafletVersion() + "/dist/";
    add("/assets/leaflet/leaflet.js", leaflet + "leaflet.js", "text/javascript; charset=utf-8");
    add("/assets/leaflet/leaflet.js.map", leaflet + "leaflet.js.map", "application/json");
    add("/assets/leaflet/leaflet.css", leaflet + "leaflet.css", "text/css; charset=utf-8");
    for (String png : new String[] {"layers", "layers-2x", "marker-icon", "marker-icon-2x", "marker-shadow"}) {
      add("/assets/leaflet/images/" + png + ".png", leaflet + "images/" + png + ".png", "image/png");
    }
  }

  /** The file served at {@code path}, or null. */
  Asset get(String path) {
    return byPath.get(path);
  }

  Iterable<String> paths() {
    return byPath.keySet();
  }

  /** The Leaflet webjar's version, from its own Maven metadata: the pom names it once. */
  private static String leafletVersion() {
    Properties p = new Properties();
    try (InputStream in = Assets.class.getClassLoader().getResourceAsStream(LEAFLET_POM)) {
      if (in == null) {
        throw new IllegalStateException("the Leaflet webjar (org.webjars.npm:leaflet) is not on the classpath");
      }
      p.load(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return p.getProperty("version");
  }

  private void add(String path, String resource, String contentType) {
    try (InputStream in = Assets.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("the live page's file " + resource + " is not on the classpath");
      }
      byPath.put(path, new Asset(in.readAllBytes(), contentType));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
