package ai.lsntp.serve;

import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.javalin.http.sse.SseClient;
import java.net.BindException;
import java.nio.ByteBuffer;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live page and the point API over HTTP (Javalin on Jetty 12): read-only, every answer JSON
 * but the page and its files, and no answer ever a stack trace (a failure is logged and answered
 * with a sentence). The page learns of changes by server-sent events on /api/events (the state's
 * version, at most every {@link #TICK_MILLIS} ms) and fetches /api/state.
 */
public final class LiveServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(LiveServer.class);
  static final long TICK_MILLIS = 200;
  /** A comment this often keeps idle connections open through proxies and finds the closed ones. */
  private static final long KEEP_ALIVE_MILLIS = 15_000;
  /**
   * The page loads only what this server serves: a script, style or connection to anywhere else is
   * refused by the browser (and shows as an error in its console, which the browser test reads).
   */
  private static final String CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
      + "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

  private final LiveState state;
  private final Javalin app;
  private final Set<SseClient> clients = ConcurrentHashMap.newKeySet();
  private final ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "lsntp-live-events");
    t.setDaemon(true);
    return t;
  });
  private volatile long sent = -1;
  private final String url;

  private LiveServer(LiveState state, String host, int port) {
    this.state = state;
    PointApi api = new PointApi(state);
    Assets assets = new Assets();
    this.app = Javalin.create(config -> {
      config.startup.showJavalinBanner = false;
      config.startup.showOldJavalinVersionWarning = false;
      config.jetty.host = host;
      config.jetty.port = port;
      config.http.prefer405over404 = true;
      config.jetty.modifyHttpConfiguration(h -> h.setSendServerVersion(false));
      // what Jetty answers itself (a request line or URI it cannot parse, headers too large) is JSON too
      config.jetty.modifyServer(s -> s.setErrorHandler(new JsonErrors()));
      config.jetty.modifyServletContextHandler(h -> h.setErrorHandler(new JsonErrors()));

      for (String path : assets.paths()) {
        Assets.Asset a = assets.get(path);
        config.routes.get(path, ctx -> {
          if (path.equals("/")) {
            ctx.header("Content-Security-Policy", CSP);
          }
          ctx.header("X-Content-Type-Options", "nosniff").contentType(a.contentType()).result(a.bytes());
        });
      }
      config.routes.get("/api/state", ctx -> json(ctx, 200, state.pageJson()));
      // the event stream answers only clients that ask for one; anything else (curl, a link
      // followed by hand) would get an empty 200 and believe it had the page's data
      config.routes.before("/api/events", ctx -> {
        String accept = ctx.header("Accept");
        if (accept == null || !accept.contains("text/event-stream")) {
          throw new ApiError(406, null, "/api/events is a stream of server-sent events for the live page: ask with "
              + "'Accept: text/event-stream'; the page's data itself is GET /api/state");
        }
      });
      config.routes.sse("/api/events", client -> {
        client.keepAlive();
        clients.add(client);
        client.onClose(() -> clients.remove(client));
        client.sendEvent("version", Long.toString(state.version()));
      });
      config.routes.get("/v1/forecast", ctx -> json(ctx, 200, api.forecast(ctx.queryString())));
      config.routes.get("/v1/grids", ctx -> json(ctx, 200, api.grids()));

      config.routes.exception(ApiError.class, (e, ctx) -> json(ctx, e.status, error(e.getMessage(), e.parameter)));
      config.routes.exception(HttpResponseException.class, (e, ctx) -> json(ctx, e.getStatus(), error(
          e.getStatus() == 404 ? "No such path: " + ctx.method() + " " + ctx.path()
              + " (the API: /v1/forecast?latitude=..&longitude=.., /v1/grids; the page: /)"
          : e.getStatus() == 405 ? "Method " + ctx.method() + " is not allowed on " + ctx.path() + "; this API only reads (GET)"
          : e.getMessage(), null)));
      config.routes.exception(Exception.class, (e, ctx) -> {
        LOG.error("live page: {} {} failed", ctx.method(), ctx.path(), e); // the trace goes to the log, never to the client
        json(ctx, 500, error("Internal error; the server's log has the details", null));
      });
    });
    try {
      app.start();
    } catch (RuntimeException e) {
      for (Throwable t = e; t != null; t = t.getCause()) {
        if (t instanceof BindException) {
          throw new ServeException("cannot listen on " + host + ":" + port + ": " + t.getMessage()
              + " (is another server using the port? choose another)", e);
        }
      }
      throw e;
    }
    this.url = "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + app.port() + "/";
    ticker.scheduleWithFixedDelay(this::tick, TICK_MILLIS, TICK_MILLIS, TimeUnit.MILLISECONDS);
    ticker.scheduleWithFixedDelay(this::keepAlive, KEEP_ALIVE_MILLIS, KEEP_ALIVE_MILLIS, TimeUnit.MILLISECONDS);
  }

  /** Serves {@code state} on host:port (0: any free port); throws {@link ServeException} when it cannot listen. */
  public static LiveServer start(LiveState state, String host, int port) {
    return new LiveServer(state, host, port);
  }

  /** The page's address, e.g. http://127.0.0.1:8765/. */
  public String url() {
    return url;
  }

  public int port() {
    return app.port();
  }

  /** Tells every page the state's version when it changed. */
  private void tick() {
    long v = state.version();
    if (v != sent) {
      sent = v;
      for (SseClient c : clients) {
        send(c, () -> c.sendEvent("version", Long.toString(v)));
      }
    }
  }

  private void keepAlive() {
    for (SseClient c : clients) {
      send(c, () -> c.sendComment("keep-alive"));
    }
  }

  private void send(SseClient c, Runnable write) {
    try {
      if (c.terminated()) {
        clients.remove(c);
      } else {
        write.run();
      }
    } catch (RuntimeException e) {
      clients.remove(c); // the page went away
    }
  }

  private static void json(Context ctx, int status, byte[] body) {
    ctx.status(status).header("Cache-Control", "no-store").header("X-Content-Type-Options", "nosniff")
        .contentType("application/json").result(body);
  }

  /** Open-Meteo's error shape, with the parameter at fault where there is one. */
  static byte[] error(String reason, String parameter) {
    return Json.bytes(256, g -> {
      g.writeStartObject();
      g.writeBooleanField("error", true);
      g.writeStringField("reason", reason);
      if (parameter != null) {
        g.writeStringField("parameter", parameter);
      }
      g.writeEndObject();
    });
  }

  /** Jetty's own answers (before a request reaches the routes) as JSON, with its reason and never a stack trace. */
  private static final class JsonErrors extends ErrorHandler {
    @Override
    public boolean handle(Request request, Response response, Callback callback) {
      int status = response.getStatus();
      Object message = request.getAttribute(ERROR_MESSAGE);
      String reason = "HTTP " + status + (message instanceof String m && !m.isBlank() ? ": " + m : "");
      response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
      response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
      // Jetty drops the connection after a request it refused; saying so keeps clients from
      // sending their next request down it
      response.getHeaders().put(HttpHeader.CONNECTION, "close");
      response.write(true, ByteBuffer.wrap(error(reason, null)), callback);
      return true;
    }
  }

  @Override
  public void close() {
    ticker.shutdownNow();
    for (SseClient c : clients) {
      try {
        c.close();
      } catch (RuntimeException e) {
        // closing anyway
      }
    }
    app.stop();
  }

}
