# A Glance-style image registry: Routes' Mapper under Glance's Router, Resource and
# RejectMethodController, two Middlewares, JSON in and out, 404 / 405 / 501.
# The Python original of examples/glance_style.rs (docs/porting.md, "Three ports, measured").
# Glance's own classes (glance/common/wsgi.py) are copied in, shortened, as a service built
# the Glance way carries them; the Rust port takes them from may_wsgi::routes instead.
# Run: python3 glance_style.py [PORT], with webob and routes installed.
import json
import sys
import threading
from wsgiref.simple_server import make_server

import routes
import routes.middleware
import webob.dec
import webob.exc

# ---- glance.common.wsgi, shortened ----


class Router(object):
    def __init__(self, mapper):
        mapper.redirect("", "/")
        self.map = mapper
        self._router = routes.middleware.RoutesMiddleware(self._dispatch, self.map)

    @webob.dec.wsgify
    def __call__(self, req):
        return self._router

    @staticmethod
    @webob.dec.wsgify
    def _dispatch(req):
        match = req.environ['wsgiorg.routing_args'][1]
        if not match:
            if req.method not in ('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH'):
                return webob.exc.HTTPNotImplemented()
            return webob.exc.HTTPNotFound()
        return match['controller']


class JSONRequestDeserializer(object):
    def has_body(self, request):
        if request.method in ('POST', 'PUT', 'PATCH') and 'transfer-encoding' in request.headers:
            return True
        return bool(request.content_length)

    def default(self, request):
        if not self.has_body(request):
            return {}
        try:
            return {'body': json.loads(request.body)}
        except ValueError:
            raise webob.exc.HTTPBadRequest(explanation='Malformed JSON in request body.')


class Resource(object):
    def __init__(self, controller, deserializer=None, serializer=None):
        self.controller = controller
        self.deserializer = deserializer or JSONRequestDeserializer()
        self.serializer = serializer

    @webob.dec.wsgify
    def __call__(self, request):
        action_args = dict(request.environ['wsgiorg.routing_args'][1])
        for key in ('controller', 'format'):
            action_args.pop(key, None)
        action = action_args.pop('action', None)
        body_reject = action_args.pop('body_reject', None) == 'True'
        try:
            if body_reject and self.deserializer.has_body(request):
                raise webob.exc.HTTPBadRequest(explanation='A body is not expected with this request.')
            action_args.update(self.dispatch(self.deserializer, action, request))
            action_result = self.dispatch(self.controller, action, request, **action_args)
        except webob.exc.HTTPException as e:
            return e
        response = webob.Response(request=request)
        self.dispatch(self.serializer, action, response, action_result)
        return response

    def dispatch(self, obj, action, *args, **kwargs):
        method = getattr(obj, action, None) or getattr(obj, 'default')
        return method(*args, **kwargs)


class RejectMethodController(object):
    def reject(self, req, allowed_methods, *args, **kwargs):
        raise webob.exc.HTTPMethodNotAllowed(headers=[('Allow', allowed_methods)])


class Middleware(object):
    def __init__(self, application):
        self.application = application

    def process_request(self, req):
        return None

    def process_response(self, response):
        return response

    @webob.dec.wsgify
    def __call__(self, req):
        response = self.process_request(req)
        if response:
            return response
        response = req.get_response(self.application)
        response.request = req
        return self.process_response(response)

# ---- the service ----


class ImagesController(object):
    def __init__(self):
        self.images, self.lock, self.next_id = {}, threading.Lock(), 1

    def index(self, req):
        name = req.GET.get('name')
        with self.lock:
            return {'images': [i for i in self.images.values() if name in (None, i['name'])]}

    def create(self, req, body=None):
        if body is None:
            raise webob.exc.HTTPBadRequest(explanation='Body expected in request.')
        name = body.get('name') if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            raise webob.exc.HTTPBadRequest(explanation='An image needs a name.')
        with self.lock:
            image = {'id': str(self.next_id), 'name': name, 'status': 'queued', 'tags': []}
            self.images[image['id']] = image
            self.next_id += 1
            return image

    def show(self, req, image_id):
        with self.lock:
            if image_id not in self.images:
                raise webob.exc.HTTPNotFound(explanation='No image found with ID %s' % image_id)
            return self.images[image_id]

    def delete(self, req, image_id):
        with self.lock:
            if self.images.pop(image_id, None) is None:
                raise webob.exc.HTTPNotFound(explanation='No image found with ID %s' % image_id)

    def add_tag(self, req, image_id, tag_value):
        image = self.show(req, image_id)
        with self.lock:
            if tag_value not in image['tags']:
                image['tags'].append(tag_value)


class ImagesSerializer(object):
    def default(self, response, result):
        response.content_type = 'application/json'
        response.json = result

    def create(self, response, image):
        response.status_int = 201
        response.location = '/images/%s' % image['id']
        self.default(response, image)

    def delete(self, response, result):
        response.status_int = 204

    add_tag = delete


class AdminOnlyWrites(Middleware):
    def process_request(self, req):
        if req.method != 'GET' and req.headers.get('X-Roles') != 'admin':
            return webob.exc.HTTPForbidden(explanation='Only admins may change images.')


class RequestId(Middleware):
    def __init__(self, application):
        super(RequestId, self).__init__(application)
        self.served = 0

    def process_response(self, response):
        self.served += 1
        response.headers['x-openstack-request-id'] = 'req-%d' % self.served
        return response


class API(Router):
    def __init__(self, mapper):
        reject_method_resource = Resource(RejectMethodController())
        images_resource = Resource(ImagesController(), JSONRequestDeserializer(), ImagesSerializer())
        mapper.connect('/images', controller=images_resource, action='index',
                       conditions={'method': ['GET']})
        mapper.connect('/images', controller=images_resource, action='create',
                       conditions={'method': ['POST']})
        mapper.connect('/images', controller=reject_method_resource, action='reject',
                       allowed_methods='GET, POST')
        mapper.connect('/images/{image_id}', controller=images_resource, action='show',
                       conditions={'method': ['GET']}, body_reject=True)
        mapper.connect('/images/{image_id}', controller=images_resource, action='delete',
                       conditions={'method': ['DELETE']}, body_reject=True)
        mapper.connect('/images/{image_id}', controller=reject_method_resource, action='reject',
                       allowed_methods='GET, DELETE')
        mapper.connect('/images/{image_id}/tags/{tag_value}', controller=images_resource,
                       action='add_tag', conditions={'method': ['PUT']}, body_reject=True)
        mapper.connect('/images/{image_id}/tags/{tag_value}', controller=reject_method_resource,
                       action='reject', allowed_methods='PUT')
        super(API, self).__init__(mapper)


application = RequestId(AdminOnlyWrites(API(routes.Mapper())))
httpd = make_server('127.0.0.1', int(sys.argv[1]) if len(sys.argv) > 1 else 8000, application)
print('Serving on port %d...' % httpd.server_port, flush=True)
httpd.serve_forever()
