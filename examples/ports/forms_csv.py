# An expenses tracker in WebOb: a query string, a form POST, a cookie and a streamed CSV.
# The Python original of examples/forms_csv.rs (docs/porting.md, "Three ports, measured").
# Run: python3 forms_csv.py [PORT], with webob installed.
import csv
import io
import sys
import threading
from wsgiref.simple_server import make_server

from webob import Response, exc
from webob.dec import wsgify

expenses, lock = [], threading.Lock()


def csv_lines(rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\n')
    for row in [('who', 'what', 'amount')] + rows:
        writer.writerow(row)
        yield out.getvalue().encode()
        out.seek(0)
        out.truncate()


@wsgify
def app(req):
    if req.path_info == '/':
        who = req.GET.get('who', req.cookies.get('who', 'stranger'))
        with lock:
            mine = [amount for name, _, amount in expenses if name == who]
        return Response('%s spent %d in %d expenses\n' % (who, sum(mine), len(mine)),
                        content_type='text/plain')
    if req.path_info == '/expenses' and req.method == 'POST':
        who, what = req.POST.get('who', ''), req.POST.get('what', '')
        amount = req.POST.get('amount', '')
        if not who or not amount.isdigit():
            raise exc.HTTPBadRequest('who and a whole amount are required')
        with lock:
            expenses.append((who, what, int(amount)))
        resp = exc.HTTPSeeOther(location='/')
        resp.set_cookie('who', who, max_age=3600, httponly=True)
        return resp
    if req.path_info == '/expenses.csv':
        people = req.GET.getall('who')
        with lock:
            rows = [e for e in expenses if not people or e[0] in people]
        resp = Response(content_type='text/csv', app_iter=csv_lines(rows))
        resp.content_disposition = 'attachment; filename="expenses.csv"'
        return resp
    raise exc.HTTPNotFound()


httpd = make_server('127.0.0.1', int(sys.argv[1]) if len(sys.argv) > 1 else 8000, app)
print('Serving on port %d...' % httpd.server_port, flush=True)
httpd.serve_forever()
