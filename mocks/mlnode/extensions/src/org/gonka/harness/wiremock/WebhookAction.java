package org.gonka.harness.wiremock;

import com.github.tomakehurst.wiremock.core.Admin;
import com.github.tomakehurst.wiremock.extension.Parameters;
import com.github.tomakehurst.wiremock.extension.PostServeAction;
import com.github.tomakehurst.wiremock.extension.responsetemplating.HandlebarsOptimizedTemplate;
import com.github.tomakehurst.wiremock.extension.responsetemplating.RequestTemplateModel;
import com.github.tomakehurst.wiremock.extension.responsetemplating.TemplateEngine;
import com.github.tomakehurst.wiremock.stubbing.ServeEvent;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A post-serve action named "webhook" for WireMock 2.35, which does not bundle one.
 *
 * It reads the same parameters as WireMock 3.x's built-in webhook ("method", "url", "headers", "body",
 * "delay": {"type": "fixed", "milliseconds": N}) and renders url, header values and body as Handlebars
 * templates with "originalRequest" and "parameters" in the model, so one mapping file works on both:
 *   "postServeActions": [{"name": "webhook", "parameters": {...}}]
 * Only loaded on 2.x (3.x has its own extension of that name). Failures are logged to stderr, never thrown.
 */
public class WebhookAction extends PostServeAction {
    private final TemplateEngine templates = new TemplateEngine(Collections.emptyMap(), null, Collections.emptySet());
    private final ScheduledExecutorService scheduler = Executors.newScheduledThreadPool(4, r -> {
        Thread t = new Thread(r, "harness-webhook");
        t.setDaemon(true);
        return t;
    });
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Override
    public String getName() {
        return "webhook";
    }

    @Override
    public void doAction(ServeEvent serveEvent, Admin admin, Parameters parameters) {
        Map<String, Object> model = new HashMap<>();
        model.put("originalRequest", RequestTemplateModel.from(serveEvent.getRequest()));
        model.put("parameters", parameters);
        final HttpRequest request;
        try {
            String method = parameters.getString("method", "POST").toUpperCase();
            String url = render(parameters.getString("url"), model);
            String body = parameters.containsKey("body") ? render(parameters.getString("body"), model) : "";
            HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30));
            Object headers = parameters.get("headers");
            if (headers instanceof Map) {
                for (Map.Entry<?, ?> h : ((Map<?, ?>) headers).entrySet()) {
                    Object v = h.getValue();
                    List<?> values = v instanceof List ? (List<?>) v : Collections.singletonList(v);
                    for (Object one : values) {
                        builder.header(String.valueOf(h.getKey()), render(String.valueOf(one), model));
                    }
                }
            }
            request = builder.method(method, HttpRequest.BodyPublishers.ofString(body)).build();
        } catch (RuntimeException e) {
            System.err.println("harness-webhook: cannot build webhook request: " + e);
            return;
        }
        scheduler.schedule(() -> send(request), delayMillis(parameters), TimeUnit.MILLISECONDS);
    }

    private String render(String template, Map<String, Object> model) {
        if (template == null) {
            throw new IllegalArgumentException("webhook parameter missing (url is required)");
        }
        HandlebarsOptimizedTemplate t = templates.getUncachedTemplate(template);
        return t.apply(model);
    }

    private static long delayMillis(Parameters parameters) {
        Object delay = parameters.get("delay");
        if (delay instanceof Map) {
            Object ms = ((Map<?, ?>) delay).get("milliseconds");
            if (ms instanceof Number) {
                return ((Number) ms).longValue();
            }
        }
        return 0L;
    }

    private void send(HttpRequest request) {
        try {
            HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
            System.err.println("harness-webhook: " + request.method() + " " + request.uri() + " -> " + response.statusCode());
        } catch (Exception e) {
            System.err.println("harness-webhook: " + request.method() + " " + request.uri() + " failed: " + e);
        }
    }
}
